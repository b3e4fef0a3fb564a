/**
 * BaseManager (Python: `multiprocessing.managers.BaseManager`): a registry of
 * types, and either a server process it starts (`start`), a server it runs
 * here (`getServer().serveForever()`), or a server elsewhere it connects to
 * (`connect`). Each registered typeid becomes a method returning a proxy.
 */
import { authkeyBytes } from "../channel/auth.ts";
import type { Address } from "../channel/listener.ts";
import { Pipe } from "../channel/pipe.ts";
import { loadBackend } from "../backend-registry.ts";
import type { Exportable } from "../codec/exports.ts";
import type { BackendName } from "../config.ts";
import { getContext } from "../context.ts";
import { ProcessError } from "../errors.ts";
import { currentProcess, type Process } from "../process.ts";
import { getStartMethod } from "../start-method.ts";
import { dropLink, type Link, linkTo } from "./link.ts";
import { AutoProxyClass, type BaseProxy, makeProxy, type ProxyClass, type ProxyState } from "./proxy.ts";
import { type ReadyMessage, serveManager } from "./serve-process.ts";
import { type RegistryEntry, Server } from "./server.ts";

/** Options of `new BaseManager()` (Python: `BaseManager(address, authkey, ctx)`). */
export interface ManagerOptions {
  /** Where the server listens; default a fresh unix socket path. `[host, 0]` picks a free TCP port. */
  address?: Address;
  /** The key clients prove they know; default `currentProcess().authkey`. */
  authkey?: string | Uint8Array;
  /** The backend of the server process `start()` starts; default the default start method. */
  startMethod?: BackendName;
}

/** Options of `register` (Python: `register(typeid, callable, proxytype, exposed, method_to_typeid, create_method)`). */
export interface RegisterOptions {
  /** Methods a proxy may call; default every public method of the object. */
  exposed?: readonly string[];
  /** The proxy class; default an AutoProxy with every exposed method. */
  proxyType?: ProxyClass;
  /** Methods whose result stays on the server and comes back as a proxy of the given typeid. */
  methodToTypeid?: Readonly<Record<string, string>>;
  /** Whether the typeid becomes a method of the manager (default true). */
  createMethod?: boolean;
}

interface Registered {
  entry: RegistryEntry;
  proxyType: ProxyClass;
}

type State = "initial" | "started" | "connected" | "shutdown";

/** How long the server process gets to start, and to end after a shutdown request (ms). */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const registries = new WeakMap<object, Map<string, Registered>>();
let managerCount = 0;

function registryOf(cls: object): Map<string, Registered> {
  let own = registries.get(cls);
  if (own === undefined) {
    const parent = Object.getPrototypeOf(cls) as object | null;
    own = new Map(parent !== null && registries.has(parent) ? registryOf(parent) : []);
    registries.set(cls, own);
  }
  return own;
}

/** The modules this program has loaded (absolute paths), which its manager's server may import for a request. */
function loadedModules(): string[] {
  const paths = Object.keys(require.cache).filter((p) => p.startsWith("/"));
  return Bun.main.startsWith("/") && !paths.includes(Bun.main) ? [...paths, Bun.main] : paths;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A manager of objects held by a server (Python: `BaseManager`).
 *
 * @example
 * ```ts
 * export class Counter { n = 0; increment(by = 1) { return (this.n += by); } }
 * class MyManager extends BaseManager {}
 * MyManager.register("Counter", Counter);
 * await using m = new MyManager();
 * await m.start();
 * const c = (await (m as any).Counter()) as AutoProxy;
 * await c.increment(2);
 * ```
 */
export class BaseManager {
  #address: Address | undefined;
  readonly #authkey: Uint8Array;
  readonly #startMethod: BackendName | undefined;
  #state: State = "initial";
  #process: Process | undefined;

  constructor(opts: ManagerOptions = {}) {
    this.#address = opts.address;
    this.#authkey = opts.authkey === undefined ? currentProcess().authkey : authkeyBytes(opts.authkey, "Manager");
    this.#startMethod = opts.startMethod;
  }

  /**
   * Registers a type (Python: `BaseManager.register`): `typeid` becomes a
   * method of this class's managers (and `typeidSync`) that makes an object
   * with `callable` on the server and returns its proxy. A side that only
   * connects registers the typeid without a callable.
   * @param callable an exported class (called with `new`) or function; exported, so that the server process can import it
   */
  static register(typeid: string, callable?: Exportable | null, opts: RegisterOptions = {}): void {
    if (typeof typeid !== "string" || !/^[A-Za-z_$][\w$]*$/.test(typeid)) {
      throw new TypeError(`register() typeid must be an identifier, got ${JSON.stringify(typeid)}`);
    }
    const proxyType = opts.proxyType ?? AutoProxyClass;
    const entry: RegistryEntry = {
      typeid,
      callable: callable ?? null,
      exposed: opts.exposed === undefined ? null : [...opts.exposed],
      methodToTypeid: opts.methodToTypeid === undefined ? null : { ...opts.methodToTypeid },
      proxyKind: Object.hasOwn(proxyType, "proxyKind") ? (proxyType.proxyKind ?? null) : null,
    };
    // `this`: the subclass register() was called on, whose registry (and prototype) it fills.
    // biome-ignore lint/complexity/noThisInStatic: each subclass has its own registry
    registryOf(this).set(typeid, { entry, proxyType });
    if (opts.createMethod === false) return;
    // biome-ignore lint/complexity/noThisInStatic: the subclass's prototype
    Object.defineProperty(this.prototype, typeid, {
      configurable: true,
      writable: true,
      value(this: BaseManager, ...args: unknown[]) {
        return this._create(typeid, args);
      },
    });
    // biome-ignore lint/complexity/noThisInStatic: the subclass's prototype
    Object.defineProperty(this.prototype, `${typeid}Sync`, {
      configurable: true,
      writable: true,
      value(this: BaseManager, ...args: unknown[]) {
        return this._createSync(typeid, args);
      },
    });
  }

  #registry(): Map<string, Registered> {
    return registryOf(this.constructor);
  }

  /** The server's address (Python: `address`); for a started manager, known once `start()` resolved. */
  get address(): Address | undefined {
    return this.#address;
  }

  #link(what: string): Link {
    if (this.#state === "initial") {
      throw new ProcessError(`Cannot ${what}: the manager is not started; call start() or connect() first`);
    }
    if (this.#state === "shutdown" || this.#address === undefined) {
      throw new ProcessError(`Cannot ${what}: the manager is shut down`);
    }
    return linkTo(this.#address, this.#authkey);
  }

  #proxy(typeid: string, id: string, exposed: string[]): BaseProxy {
    const reg = this.#registry().get(typeid);
    const own = currentProcess().authkey;
    const state: ProxyState = {
      typeid,
      address: this.#address!,
      id,
      exposed,
      ...(sameKey(own, this.#authkey) ? {} : { authkey: this.#authkey }),
    };
    return makeProxy(reg?.proxyType ?? AutoProxyClass, state, true);
  }

  /** Makes a `typeid` object on the server and returns its proxy (Python: `_create`). */
  async _create(typeid: string, args: unknown[]): Promise<BaseProxy> {
    const [id, exposed] = (await this.#link(`make a ${typeid}`).request(["create", typeid, args])) as [
      string,
      string[],
    ];
    return this.#proxy(typeid, id, exposed);
  }

  /** Blocking form of `_create`. */
  _createSync(typeid: string, args: unknown[]): BaseProxy {
    const [id, exposed] = this.#link(`make a ${typeid}`).requestSync(["create", typeid, args]) as [string, string[]];
    return this.#proxy(typeid, id, exposed);
  }

  /**
   * How many objects the server holds (Python: `_number_of_objects`, for
   * tests and leak checks): it goes down as proxies are collected and
   * clients disconnect.
   */
  async _numberOfObjects(): Promise<number> {
    return (await this.#link("count objects").request(["numberOfObjects"])) as number;
  }

  /** Blocking form of `_numberOfObjects`. */
  _numberOfObjectsSync(): number {
    return this.#link("count objects").requestSync(["numberOfObjects"]) as number;
  }

  /**
   * A server for this manager's types in this process (Python:
   * `get_server`): `await m.getServer().serveForever()`.
   * @throws ProcessError when the manager is started or connected
   */
  getServer(): Server {
    if (this.#state !== "initial") throw new ProcessError(`Cannot get a server: the manager is ${this.#state}`);
    const entries = [...this.#registry().values()].map((r) => r.entry);
    const server = new Server(entries, { address: this.#address, authkey: this.#authkey });
    this.#address = server.address;
    return server;
  }

  /**
   * Connects to a running server (Python: `connect`).
   * @throws AuthenticationError when the keys differ; ProcessError when nobody serves there
   */
  async connect(): Promise<void> {
    if (this.#state !== "initial") throw new ProcessError(`Cannot connect: the manager is ${this.#state}`);
    if (this.#address === undefined) throw new TypeError("Cannot connect: the manager has no address");
    const link = linkTo(this.#address, this.#authkey);
    await link.check();
    this.#state = "connected";
  }

  /**
   * Starts the server process with the backend of the manager's context
   * (Python: `start(initializer, initargs)`); the initializer runs there.
   * @throws ProcessError when it does not come up
   * @throws PicklingError when a registered callable is not exported (spawn and worker import it)
   */
  async start(initializer?: (...a: never[]) => unknown, initargs: unknown[] = []): Promise<void> {
    if (this.#state !== "initial") throw new ProcessError(`Cannot start: the manager is ${this.#state}`);
    const backend = this.#startMethod ?? getStartMethod();
    const entries = [...this.#registry().values()].map((r) => r.entry);
    const [reader, writer] = Pipe(false);
    const { Process: Proc } = getContext(backend);
    const init = (initializer ?? null) as ((...a: unknown[]) => unknown) | null;
    const args = [entries, this.#address ?? null, this.#authkey, writer, init, initargs, loadedModules()] as const;
    const name = `${this.constructor.name}-${++managerCount}`;
    const proc = loadBackend(backend).capabilities.inheritsMemory
      ? new Proc({ name, daemon: true, target: () => serveManager(...args) })
      : new Proc({ name, daemon: true, target: serveManager, args: [...args] });
    try {
      proc.start();
    } finally {
      writer.close();
    }
    this.#process = proc;
    let ready: ReadyMessage | undefined;
    try {
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (ready === undefined) {
        if (await reader.pollAsync(100)) ready = (await reader.recv()) as ReadyMessage;
        else if (!proc.isAlive()) throw new ProcessError(`The manager's server process ${name} ended before serving`);
        else if (Date.now() > deadline) {
          proc.kill();
          throw new ProcessError(`The manager's server process ${name} did not start within ${START_TIMEOUT_MS} ms`);
        }
      }
    } catch (error) {
      if (proc.isAlive()) proc.kill();
      throw error instanceof ProcessError
        ? error
        : new ProcessError(`The manager's server process ${name} ended before serving`, { cause: error });
    } finally {
      reader.close();
    }
    if ("error" in ready) {
      await proc.join(STOP_TIMEOUT_MS);
      throw ready.error;
    }
    this.#address = ready.address;
    this.#state = "started";
  }

  /**
   * Asks the server to stop and waits for its process to end (Python:
   * `shutdown`); proxies throw ProcessError afterwards. A connected manager
   * only drops its connections. Calling it again does nothing.
   */
  async shutdown(): Promise<void> {
    const proc = this.#stop(false);
    if (proc === undefined) return;
    await proc.join(STOP_TIMEOUT_MS);
    if (proc.exitCode === null) {
      proc.terminate();
      await proc.join(STOP_TIMEOUT_MS);
    }
  }

  /** Blocking form of `shutdown`. */
  shutdownSync(): void {
    const proc = this.#stop(true);
    if (proc === undefined) return;
    proc.joinSync(STOP_TIMEOUT_MS);
    if (proc.exitCode === null) {
      proc.terminate();
      proc.joinSync(STOP_TIMEOUT_MS);
    }
  }

  #stop(_sync: boolean): Process | undefined {
    const was = this.#state;
    if (was === "shutdown" || was === "initial") {
      this.#state = "shutdown";
      return undefined;
    }
    this.#state = "shutdown";
    const address = this.#address!;
    if (was === "started") {
      try {
        linkTo(address, this.#authkey).requestSync(["shutdown"]);
      } catch {
        // Already gone: the process is joined below all the same.
      }
    }
    dropLink(address, "the manager was shut down");
    return this.#process;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  toString(): string {
    return `<${this.constructor.name} ${this.#state}${this.#address === undefined ? "" : ` at ${JSON.stringify(this.#address)}`}>`;
  }
}
