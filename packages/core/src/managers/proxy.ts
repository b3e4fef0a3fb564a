/**
 * Proxies (Python: `managers.BaseProxy`, `AutoProxy`, `RebuildProxy`): a
 * handle on an object held by a manager server. Every method is one request
 * to the server, in two forms (`await p.m()` and `p.mSync()`). A proxy is
 * sendable: it travels as its token (typeid, server address, object id) and
 * the receiver reaches the same object, taking its own reference on its first
 * call. A proxy that arrives in the server itself (stored in a dict or list
 * proxy) is held by the server until it is dropped there (nesting).
 */
import type { Address } from "../channel/listener.ts";
import { registerReducer } from "../codec/reducers.ts";
import { currentProcess } from "../process.ts";
import { type Link, linkTo, openLinkTo, setProxyMaker } from "./link.ts";

/** What a proxy knows of its object; what it travels as. */
export interface ProxyState {
  readonly typeid: string;
  readonly address: Address;
  readonly id: string;
  readonly exposed: readonly string[];
  /** The manager's key when it is not the process's own (`currentProcess().authkey`). */
  readonly authkey?: Uint8Array | undefined;
}

/** The server this process runs, if any: proxies to its own objects are held there, not connected. */
export interface LocalServer {
  readonly address: Address;
  hold(id: string): void;
  release(id: string): void;
  call(id: string, method: string, args: unknown[]): Promise<unknown>;
  /** The object held under `id` (Python: `server.id_to_obj[id][0]`). */
  objectOf(id: string): unknown;
}

let localServer: LocalServer | undefined;

/** @internal Set by the server in its own process. */
export function setLocalServer(s: LocalServer | undefined): void {
  localServer = s;
}

function sameAddress(a: Address, b: Address): boolean {
  return typeof a === "string" ? a === b : typeof b !== "string" && a[0] === b[0] && a[1] === b[1];
}

const serverHeld = new FinalizationRegistry<string>((id) => localServer?.release(id));

/** What a collected proxy leaves to drop: this process's reference on the server's object (Python: `BaseProxy._decref`). */
interface ClientRef {
  readonly address: Address;
  readonly id: string;
  readonly pid: number;
}

// A proxy collected in the process that took the reference gives it back; the
// link sends `decref` once no live proxy of this process refers to the object.
const clientHeld = new FinalizationRegistry<ClientRef>((ref) => {
  if (ref.pid === process.pid) openLinkTo(ref.address)?.dropRef(ref.id);
});

/**
 * Proxies with a call in flight, by count. Once a caller has written
 * `await r.get()`, nothing but the request may refer to `r`: held here, it
 * cannot be collected (and decref its object, which the server then frees)
 * before the reply has come and any proxy in it holds its own reference
 * (Python: the caller's frame holds the proxy during `_callmethod`).
 */
const calling = new Map<BaseProxy, number>();

function whileCalling<T>(p: BaseProxy, call: () => Promise<T>): Promise<T> {
  calling.set(p, (calling.get(p) ?? 0) + 1);
  const done = () => {
    const n = (calling.get(p) ?? 1) - 1;
    if (n > 0) calling.set(p, n);
    else calling.delete(p);
  };
  // Not an async function: each of those costs the call a few promise jobs (#20).
  let result: Promise<T>;
  try {
    result = call();
  } catch (e) {
    done();
    return Promise.reject(e);
  }
  return result.then(
    (v) => {
      done();
      return v;
    },
    (e: unknown) => {
      done();
      throw e;
    },
  );
}

/**
 * The server's own object behind a proxy that arrived in the server process
 * (Python: `RebuildProxy` returning the referent in the server).
 * @throws TypeError outside the proxy's manager server
 */
export function referentOf(p: BaseProxy): unknown {
  const state = p[STATE];
  if (localServer === undefined || !sameAddress(localServer.address, state.address)) {
    throw new TypeError(`The object of ${String(p)} is reachable only inside its manager's server`);
  }
  return localServer.objectOf(state.id);
}

/** Key of the state getter, readable through a JS Proxy (the Namespace proxy). */
export const STATE: unique symbol = Symbol("multiproc.managerProxy");

/** A proxy class: made from a state; `wrap` may return another object standing for it (Namespace). */
export interface ProxyClass {
  new (state: ProxyState, owned: boolean): BaseProxy;
  wrap?(p: BaseProxy): BaseProxy;
  readonly proxyKind?: string;
}

/**
 * Base of every proxy (Python: `BaseProxy`). Subclasses call `_callMethod`
 * and `_callMethodSync`.
 */
export class BaseProxy {
  readonly #state: ProxyState;
  /** The pid in which this proxy holds a reference on the server (-1: none yet). */
  #increfedIn: number;

  /**
   * @internal Proxies come from a manager or from a message.
   * @param owned the server already counts a reference of this process
   */
  constructor(state: ProxyState, owned = false) {
    this.#state = state;
    this.#increfedIn = -1;
    if (owned) this.#held(this.#link());
  }

  /** Counts this proxy's reference (taken on the server) in this process, until it is collected. */
  #held(link: Link): void {
    link.addRef(this.#state.id);
    this.#increfedIn = process.pid;
    clientHeld.register(this, { address: this.#state.address, id: this.#state.id, pid: process.pid });
  }

  /** @internal */
  get [STATE](): ProxyState {
    return this.#state;
  }

  #link(): Link {
    return linkTo(this.#state.address, this.#state.authkey ?? currentProcess().authkey);
  }

  #local(): LocalServer | undefined {
    return localServer !== undefined && sameAddress(localServer.address, this.#state.address) ? localServer : undefined;
  }

  /**
   * Calls `method` of the server's object with `args` and waits for its
   * result without blocking (Python: `_callmethod`).
   * @throws the server object's error, rebuilt with its class, message and stack
   * @throws ProcessError when the server is shut down or dead
   */
  _callMethod(method: string, args: unknown[] = []): Promise<unknown> {
    return whileCalling(this, () => this.#call(method, args));
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    const local = this.#local();
    if (local !== undefined) return local.call(this.#state.id, method, args);
    const link = this.#link();
    if (this.#increfedIn !== process.pid) return this.#increfThenCall(link, method, args);
    return link.request(["call", this.#state.id, method, args]);
  }

  /** The first call of this proxy in this process: takes this process's reference first. */
  async #increfThenCall(link: Link, method: string, args: unknown[]): Promise<unknown> {
    if (!link.hasRef(this.#state.id)) await link.request(["incref", this.#state.id]);
    if (this.#increfedIn !== process.pid) this.#held(link);
    return link.request(["call", this.#state.id, method, args]);
  }

  /** Blocking form of `_callMethod`. */
  _callMethodSync(method: string, args: unknown[] = []): unknown {
    if (this.#local() !== undefined) {
      throw new TypeError(
        `Cannot call ${method}Sync inside the manager's own server: it would block it; await ${method}()`,
      );
    }
    const link = this.#link();
    if (this.#increfedIn !== process.pid) {
      if (!link.hasRef(this.#state.id)) link.requestSync(["incref", this.#state.id]);
      this.#held(link);
    }
    return link.requestSync(["call", this.#state.id, method, args]);
  }

  toString(): string {
    return `<${this.constructor.name} object, typeid '${this.#state.typeid}', id ${this.#state.id}>`;
  }
}

/**
 * A proxy with every exposed method of its object, in both forms (Python:
 * `AutoProxy`): `await p.increment(2)` or `p.incrementSync(2)`.
 */
export type AutoProxy = BaseProxy & Record<string, (...args: unknown[]) => unknown>;

/** The class behind `AutoProxy`. */
export class AutoProxyClass extends BaseProxy {
  static readonly proxyKind = "auto";
  constructor(state: ProxyState, owned = false) {
    super(state, owned);
    for (const name of state.exposed) {
      Object.defineProperty(this, name, { value: (...a: unknown[]) => this._callMethod(name, a), writable: true });
      Object.defineProperty(this, `${name}Sync`, {
        value: (...a: unknown[]) => this._callMethodSync(name, a),
        writable: true,
      });
    }
  }
}

/** The library's proxy classes by kind, loaded at first use. */
const builtinKinds: Record<string, () => ProxyClass> = {
  auto: () => AutoProxyClass,
  dict: () => (require("./dict-proxy.ts") as typeof import("./dict-proxy.ts")).DictProxy,
  list: () => (require("./list-proxy.ts") as typeof import("./list-proxy.ts")).ListProxy,
  namespace: () => (require("./namespace-proxy.ts") as typeof import("./namespace-proxy.ts")).NamespaceProxy,
  value: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).ValueProxy,
  array: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).ArrayProxy,
  lock: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).AcquirerProxy,
  rlock: () => (require("./rlock-proxy.ts") as typeof import("./rlock-proxy.ts")).RLockProxy,
  condition: () => (require("./condition-proxy.ts") as typeof import("./condition-proxy.ts")).ConditionProxy,
  pool: () => (require("./pool-proxy.ts") as typeof import("./pool-proxy.ts")).PoolProxy,
  asyncresult: () => (require("./pool-proxy.ts") as typeof import("./pool-proxy.ts")).AsyncResultProxy,
  iterator: () => (require("./pool-proxy.ts") as typeof import("./pool-proxy.ts")).IteratorProxy,
  event: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).EventProxy,
  queue: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).QueueProxy,
  barrier: () => (require("./sync-proxies.ts") as typeof import("./sync-proxies.ts")).BarrierProxy,
};

/** The proxy class for `kind` (a library kind or a user's exported class). */
export function proxyClassOf(kind: string | ProxyClass | undefined): ProxyClass {
  if (kind === undefined) return AutoProxyClass;
  if (typeof kind !== "string") return kind;
  const load = builtinKinds[kind];
  if (load === undefined) throw new TypeError(`Unknown proxy kind ${JSON.stringify(kind)}`);
  return load();
}

/** Makes a proxy of class `cls` over `state`. */
export function makeProxy(cls: ProxyClass, state: ProxyState, owned: boolean): BaseProxy {
  const p = new cls(state, owned);
  return cls.wrap === undefined ? p : cls.wrap(p);
}

interface Travelling {
  state: ProxyState;
  kind: string | ProxyClass;
}

registerReducer(BaseProxy, {
  tag: "ManagerProxy",
  reduce(p: BaseProxy): Travelling {
    const state = p[STATE];
    const own = currentProcess().authkey;
    const key = state.authkey;
    const sameKey = key === undefined || (key.length === own.length && key.every((b, i) => b === own[i]));
    const cls = Object.getPrototypeOf(p).constructor as ProxyClass;
    const kind = Object.hasOwn(cls, "proxyKind") && cls.proxyKind !== undefined ? cls.proxyKind : cls;
    const { authkey: _, ...rest } = state;
    return { state: sameKey ? rest : { ...rest, authkey: key }, kind };
  },
  rebuild(t: unknown): BaseProxy {
    const { state, kind } = t as Travelling;
    const cls = proxyClassOf(kind);
    if (localServer !== undefined && sameAddress(localServer.address, state.address)) {
      localServer.hold(state.id);
      const p = makeProxy(cls, state, false);
      serverHeld.register(p, state.id);
      return p;
    }
    return makeProxy(cls, state, false);
  },
});

/** A reply naming an object the server holds for this client. */
setProxyMaker((link, typeid, id, exposed, kind) =>
  makeProxy(proxyClassOf(kind), { typeid, address: link.address, id, exposed, authkey: link.authkey }, true),
);
