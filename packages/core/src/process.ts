/**
 * Process and the process tree as this process sees it (Python:
 * `multiprocessing.process`): names, the children set, exit bookkeeping and
 * misuse checks. Launching is the backend's job (`backend.ts`).
 * Over 400 lines because it is one class, Python's BaseProcess, whose
 * public methods (start, join, terminate, kill, close, the properties) each
 * need its private state; the parent's handle is in parent-watch.ts.
 */
import type { ChildHandle, InheritedLaunch } from "./backend.ts";
import { adoptRecordedChildren, bootstrapping, type ChildIdentity } from "./child-identity.ts";
import { runToExitCode } from "./child-outcome.ts";
import { watchParent } from "./parent-watch.ts";
import { loadBackend } from "./backend-registry.ts";
import { describeFunction, findExport } from "./codec/exports.ts";
import type { BackendName } from "./config.ts";
import { PicklingError, ProcessError } from "./errors.ts";
import { inheritedObjects } from "./inherit.ts";
import type { Bootstrap, ExportRef } from "./protocol/index.ts";
import { getStartMethod, inheritStartMethod } from "./start-method.ts";
import { realPid } from "./native/fork.ts";
import { checkTimeout } from "./timeout.ts";

/** A function a child can run. Parameters are checked by the caller's own types. */
export type Target = (...args: never[]) => unknown;

/**
 * Options of `new Process(...)` (Python: `Process(target, args, name, daemon)`).
 * `args` is checked against the target's parameters, count and types; it may be
 * left out only when the target takes no required parameter.
 */
export type ProcessOptions<A extends unknown[] = unknown[]> = {
  target?: (...args: A) => unknown;
  name?: string;
  daemon?: boolean;
} & ([] extends A ? { args?: NoInfer<A> } : { args: NoInfer<A> });

export type { ChildIdentity } from "./child-identity.ts";

/** This process's auth key (Python: `current_process().authkey`): random in the main program, inherited by children. */
let myAuthkey: Uint8Array | undefined;

function ownAuthkey(): Uint8Array {
  myAuthkey ??= crypto.getRandomValues(new Uint8Array(32));
  return myAuthkey;
}

/**
 * The encoder and the descriptor collector, loaded by the first `start()` of
 * a child that re-imports the program: a worker or spawn child whose target
 * only imports the library never starts one, and these modules (the codec's
 * encoder, the channels' descriptor transfer) were a fifth of what importing
 * `@multiproc/core` cost its realm.
 */
function launchCodec(): { dumps: Dumps; encodeForLaunch: EncodeForLaunch } {
  const { encodeForLaunch } = require("./channel/fd-transfer.ts") as typeof import("./channel/fd-transfer.ts");
  const { dumps } = require("./codec/encode.ts") as typeof import("./codec/encode.ts");
  return { dumps, encodeForLaunch };
}
type Dumps = typeof import("./codec/encode.ts").dumps;
type EncodeForLaunch = typeof import("./channel/fd-transfer.ts").encodeForLaunch;

/** How long daemon children get to end after SIGTERM when the parent exits. */
const DAEMON_GRACE_MS = 1000;

/** Marks the context-bound Process classes, which count as the base class. */
export const boundToContext: unique symbol = Symbol("multiproc.boundToContext");

let children = new Set<Process>();
let childCounter = 0;
let myIdentity: number[] = [];
let current: Process | undefined;
let parent: Process | null = null;

// Set in a static block: they reach private state, which only the class can.
let adopt: (proc: Process, who: ChildIdentity) => void;
/**
 * In a parent about to fork (#23): runs every statement of a fork child's
 * `adopt` on scratch objects, then puts this process's own state back. A
 * statement a child runs first writes its caches and shapes there, pages it
 * copies; one the parent ran before does not.
 */
let adoptScratch: () => void;
let describe: (name: string, pid: number, watch?: (pid: number) => ChildHandle, into?: Process) => Process;
/**
 * This process as its fork children see it (their `parentProcess()`), made by
 * `prepareInheritedChild` before a fork (#23): a child that made it would
 * allocate where the parent's allocator left off, which measured 58 faults.
 * `by`: the process that made it, whose children may take it.
 */
let describedForChildren: { readonly by: number; readonly proc: Process } | undefined;
/**
 * In a fork child: makes `proc` this process's own Process and runs it. With
 * `dry` (in the parent, on a scratch Process, see `inheritedWarmUpLaunch`) it
 * runs the same statements and changes nothing (`adoptScratch`): a
 * module-level function, called through the closure `#inheritedLaunch` makes
 * (the dry run calls one too), so that no function is first called (and so
 * compiled, on fresh heap pages) in each child.
 */
let becomeChild: (proc: Process, who: ChildIdentity, backend: BackendName, dry: boolean) => number | Promise<number>;
/**
 * Who `proc` is to itself once a child of `me`: made by the parent at
 * `start()` for a fork child, which would otherwise make it on its way in.
 */
let identityOf: (proc: Process, me: Process) => ChildIdentity;
let warmUpLaunch: () => InheritedLaunch;

/**
 * A child process (or thread, on the worker backend) running `target(...args)`
 * or an overridden `run()`. Mirrors Python's `multiprocessing.Process`;
 * times are in milliseconds.
 *
 * @example
 * const p = new mp.Process({ target: work, args: [1, 2] });
 * p.start();
 * await p.join();
 * console.log(p.exitCode); // 0
 */
export class Process<A extends unknown[] = unknown[]> {
  /** Set on context-bound classes: the backend their instances start on. */
  static startMethod: BackendName | undefined;

  #target: Target | undefined;
  #args: unknown[];
  #name: string;
  #daemon: boolean;
  #identity: number[];
  #handle: ChildHandle | undefined;
  #started = false;
  #closed = false;
  #exitCode: number | null = null;
  /** pid of a process object that describes an existing process (current, parent). */
  #knownPid: number | undefined;
  /** A key set for this child before it started; else it gets this process's. */
  #authkey: Uint8Array | undefined;

  constructor(opts: ProcessOptions<A> = {} as ProcessOptions<A>) {
    if (opts.target !== undefined && typeof opts.target !== "function") {
      throw new TypeError(`Process target must be a function, got ${typeof opts.target}`);
    }
    if (opts.args !== undefined && !Array.isArray(opts.args)) {
      throw new TypeError(`Process args must be an array, got ${typeof opts.args}`);
    }
    this.#target = opts.target;
    this.#args = opts.args ?? [];
    childCounter += 1;
    this.#identity = [...myIdentity, childCounter];
    this.#name = opts.name ?? `Process-${this.#identity.join(":")}`;
    this.#daemon = opts.daemon ?? false;
  }

  /** What the child runs: `target(...args)`. Override it in a subclass (Python: `run`). */
  run(): unknown {
    // apply, not a spread: a spread makes an array on the way (in a fork child, a page it copies).
    if (this.#target !== undefined) return Reflect.apply(this.#target, undefined, this.#args);
    return undefined;
  }

  #check(what: string): void {
    if (this.#closed) throw new ProcessError(`Cannot ${what}: process ${this.#name} is closed`);
  }

  #checkChild(what: string): ChildHandle {
    this.#check(what);
    if (this.#handle === undefined) {
      throw new ProcessError(
        this.#knownPid !== undefined
          ? `Cannot ${what}: ${this.#name} is not a child of this process`
          : `Cannot ${what}: process ${this.#name} has not been started`,
      );
    }
    return this.#handle;
  }

  /**
   * Starts the child. Returns once the child has all it needs, so the caller
   * may block or close its own ends of what it passed right away.
   * @throws ProcessError when started twice, closed, or started from a daemon
   * @throws PicklingError when the target or an argument cannot reach the child
   */
  start(): void {
    this.#check("start");
    if (this.#started || this.#knownPid !== undefined) {
      throw new ProcessError(`Cannot start a process twice: ${this.#name} was already started`);
    }
    const me = currentProcess();
    if (me.daemon && me !== this && !daemonMayHaveChildren) {
      throw new ProcessError(`Daemonic processes are not allowed to have children (${me.name})`);
    }
    const ctor = this.constructor as typeof Process;
    const backendName = ctor.startMethod ?? getStartMethod();
    const importing = bootstrapping();
    if (importing !== undefined) {
      throw new ProcessError(
        `Cannot start ${this.#name}: this child is still importing ${importing} to find its target, and that module starts processes as it is imported, so every child would start them again. Put the code that starts processes under \`if (import.meta.main) { ... }\` in the main module (Python: \`if __name__ == "__main__":\`)`,
      );
    }
    const backend = loadBackend(backendName);
    reapFinished();
    const inherits = backend.capabilities.inheritsMemory;
    // A fork backend's dry runs of a child's way in use a scratch Process of this class, when it is
    // the library's own (a subclass's code must not run there): its caches then fit the children (#23).
    if (inherits && inheritedClass !== ctor && (ctor === Process || Object.hasOwn(ctor, boundToContext))) {
      inheritedClass = ctor;
    }
    // Descriptors in the arguments (Connections, Queues) are collected while encoding.
    this.#handle = backend.launch(
      inherits
        ? this.#inheritedLaunch(me, backendName, false)
        : { name: this.#name, daemon: this.#daemon, code: "imported", ...this.#encodeBootstrap(backendName) },
    );
    this.#started = true;
    children.add(this);
    installExitHook();
  }

  /**
   * The launch of a child that inherits this program (fork): it runs
   * `becomeChild` for this Process. `dry`: for the fork backend's dry run of a
   * child's way in (`warmUpLaunch`), on an object of the same shape.
   */
  #inheritedLaunch(me: Process, backendName: BackendName, dry: boolean): InheritedLaunch {
    const who = identityOf(this, me);
    return {
      name: this.#name,
      daemon: this.#daemon,
      code: "inherited",
      // A closure, not `bind`: made by the parent's compiled code, where a bound function took a call
      // into the runtime (about 4 page faults of the parent a start, #23). The dry run calls it too.
      runInChild: () => becomeChild(this, who, backendName, dry),
      fds: [],
    };
  }

  /** The encoded bootstrap message and the descriptors collected while encoding it (Connections, Queues). */
  #encodeBootstrap(backend: BackendName): { bootstrap: Uint8Array; fds: readonly number[] } {
    const { dumps, encodeForLaunch } = launchCodec();
    const encoded = encodeForLaunch(() => dumps(this.#bootstrap(backend, dumps)));
    return { bootstrap: encoded.value, fds: encoded.fds };
  }

  /** The bootstrap message for a child that re-imports the program. */
  #bootstrap(backend: BackendName, dumps: Dumps): Bootstrap {
    const ctor = this.constructor as typeof Process;
    const isBase = ctor === Process || Object.hasOwn(ctor, boundToContext);
    let cls: ExportRef | null = null;
    if (!isBase) {
      cls = findExport(ctor) ?? null;
      if (cls === null) {
        throw new PicklingError(
          `Cannot start ${this.#name} on the ${backend} backend: class "${ctor.name}" is not exported from any module; export it, or use the fork backend`,
          "this",
        );
      }
    }
    let target: ExportRef | null = null;
    if (this.#target !== undefined) {
      target = findExport(this.#target) ?? null;
      if (target === null) {
        throw new PicklingError(
          `Cannot start ${this.#name} on the ${backend} backend: target is ${describeFunction(this.#target)}, which is not exported from any module; export it from its module, or use the fork backend (it does not re-import the program)`,
          "target",
        );
      }
    }
    const fields: Record<string, unknown> = {};
    if (!isBase) for (const key of Object.keys(this)) fields[key] = (this as Record<string, unknown>)[key];
    const me = currentProcess();
    const inherited = inheritedObjects();
    return {
      ...(inherited.length > 0 && { inherit: dumps(inherited, { path: "inherit" }) }),
      type: "bootstrap",
      version: 1,
      backend,
      name: this.#name,
      daemon: this.#daemon,
      identity: this.#identity,
      parent: { pid: process.pid, name: me.name },
      cls,
      target,
      argv: [...process.argv],
      authkey: this.#authkey ?? ownAuthkey(),
      args: dumps(this.#args, { path: "args" }),
      fields: dumps(fields, { path: "this" }),
    };
  }

  /**
   * Waits for the child to end, at most `timeout` ms; a negative timeout does not wait (Python: `join`).
   * Never blocks the event loop.
   * @throws RangeError for a NaN or non-number timeout
   */
  async join(timeout?: number): Promise<void> {
    const handle = this.#checkChild("join");
    this.#settle(await handle.wait(checkTimeout(timeout, "Process.join")));
  }

  /** Blocks the calling thread until the child ends, at most `timeout` ms. */
  joinSync(timeout?: number): void {
    const handle = this.#checkChild("join");
    this.#settle(handle.waitSync(checkTimeout(timeout, "Process.join")));
  }

  #settle(code: number | null): void {
    if (code !== null) {
      this.#exitCode = code;
      children.delete(this);
    }
  }

  /** Whether the child is running (Python: `is_alive`). */
  isAlive(): boolean {
    this.#check("query");
    if (this === current) return true;
    if (this.#handle === undefined) return false;
    return this.exitCode === null;
  }

  /** Ends the child with SIGTERM; afterwards `exitCode` is -15 (Python: `terminate`). */
  terminate(): void {
    this.#checkChild("terminate").signal(15);
  }

  /** Ends the child with SIGKILL; afterwards `exitCode` is -9 (Python: `kill`). */
  kill(): void {
    this.#checkChild("kill").signal(9);
  }

  /**
   * Releases the child's resources; any later use throws (Python: `close`).
   * @throws ProcessError while the child is still running
   */
  close(): void {
    if (this.#closed) return;
    if (this.#handle !== undefined) {
      if (this.exitCode === null) {
        throw new ProcessError(
          `Cannot close process ${this.#name} while it is still running; call join() or terminate() first`,
        );
      }
      this.#handle.close();
    }
    children.delete(this);
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** OS process id; undefined before start. On the worker backend, the shared process id. */
  get pid(): number | undefined {
    this.#check("read pid");
    return this.#knownPid ?? this.#handle?.pid;
  }

  /** null while running (or not started); 0 ok; 1 uncaught error; -N ended by signal N. */
  get exitCode(): number | null {
    this.#check("read exitCode");
    if (this.#exitCode === null && this.#handle !== undefined) this.#settle(this.#handle.poll());
    return this.#exitCode;
  }

  /** A descriptor that becomes readable when the child ends (Python: `sentinel`). */
  get sentinel(): number | undefined {
    this.#check("read sentinel");
    return this.#handle?.sentinel;
  }

  /**
   * The key that `Listener`, `Client` and managers use by default (Python:
   * `authkey`): 32 random bytes in the main program; a child gets its
   * parent's at start, on every backend. Setting it on a Process before
   * `start()` gives that child another key; on `currentProcess()`, changes this
   * process's key.
   */
  get authkey(): Uint8Array {
    return (this === current ? ownAuthkey() : (this.#authkey ?? ownAuthkey())).slice();
  }
  set authkey(value: Uint8Array) {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`Process authkey must be a Uint8Array, got ${value === null ? "null" : typeof value}`);
    }
    if (this === current) myAuthkey = value.slice();
    else this.#authkey = value.slice();
  }

  /** The name; default `Process-N`, or `Process-N:M` for a grandchild (Python's rule). */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    if (typeof value !== "string") throw new TypeError(`Process name must be a string, got ${typeof value}`);
    this.#name = value;
  }

  /** Daemon children are ended when their parent exits. Set before `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#started) throw new ProcessError(`Cannot set daemon of ${this.#name}: the process has already started`);
    this.#daemon = Boolean(value);
  }

  toString(): string {
    let status = "initial";
    if (this.#closed) status = "closed";
    else if (this === current) status = "started";
    else if (this.#handle !== undefined) {
      const code = this.exitCode;
      status = code === null ? "started" : `stopped exitcode=${code}`;
    }
    const pid = this.#closed ? "" : ` pid=${this.pid ?? "None"}`;
    return `<${this.constructor.name} name='${this.#name}'${pid} ${status}${this.#daemon ? " daemon" : ""}>`;
  }

  static {
    becomeChild = (proc, who, backend, dry) => {
      inheritStartMethod(backend, dry);
      if (dry) adoptScratch();
      else adopt(proc, who);
      // Dry: a scratch Process, whose target does nothing.
      return runProcess(proc);
    };
    warmUpLaunch = () =>
      scratchProcess({ target: warmUpTarget }, inheritedClass).#inheritedLaunch(
        currentProcess(),
        getStartMethod(),
        true,
      );
    identityOf = (proc, me) => ({
      name: proc.#name,
      daemon: proc.#daemon,
      identity: proc.#identity,
      parent: { pid: me.#knownPid ?? process.ppid, name: me.name },
      authkey: proc.#authkey,
    });
    adopt = (proc, who) => {
      // A fork child's Process holds these already (its parent made it): no write, so no page copied.
      if (proc.#name !== who.name) proc.#name = who.name;
      if (proc.#daemon !== who.daemon) proc.#daemon = who.daemon;
      if (proc.#identity !== who.identity) proc.#identity = who.identity;
      // From the kernel, not process.pid: a getter, which a child's uncompiled code looks up in
      // process's property table, rebuilt by every fork child after any collection of its parent (#23).
      proc.#knownPid = realPid();
      if (proc.#handle !== undefined) proc.#handle = undefined;
      if (who.authkey !== undefined) myAuthkey = who.authkey;
      myIdentity = who.identity;
      // A fork child keeps the flag with the library's exit listener (the fork
      // backend drops the parent's other ones); other children start without either.
      childCounter = 0;
      // Only when there are some: clearing a Set makes new storage (an allocation in a fork child).
      if (children.size > 0) children.clear();
      current = proc;
      const made = describedForChildren;
      describedForChildren = undefined;
      const from = who.parent;
      parent =
        from.pid === 0
          ? null
          : describe(from.name, from.pid, watchParent, made?.by === from.pid ? made.proc : undefined);
    };
    adoptScratch = () => {
      const saved = [
        myAuthkey,
        myIdentity,
        exitHookInstalled,
        childCounter,
        children,
        current,
        describedForChildren,
        parent,
      ] as const;
      // Another live process to watch, as a child watches its parent: this one's own parent.
      const ppid = process.ppid;
      const proc = scratchProcess({ name: "warm-up" }, inheritedClass);
      // Described as `prepareInheritedChild` describes this process for its children, watch
      // included: a child's `describe` then takes the same branches (a statement a child runs
      // first makes it look up in property tables, rebuilt after each collection of the parent).
      const into = describe("warm-up-parent", ppid, watchParent);
      children = new Set([into]); // not empty, so that adopt clears it as a child's does
      describedForChildren = { by: ppid, proc: into };
      // As start() makes a child's identity: the same shape, so the same caches.
      adopt(proc, identityOf(proc, into));
      into.#handle?.close();
      [myAuthkey, myIdentity, exitHookInstalled, childCounter, children, current, describedForChildren, parent] = saved;
    };
    describe = (name, pid, watch, into) => {
      // Describing an existing process uses up no child number.
      const proc = into ?? scratchProcess({ name });
      // A fork child's parent was described by the parent itself (see
      // `prepareInheritedChild`): writing the same values again would copy its pages (#23).
      if (proc.#name !== name) proc.#name = name;
      if (proc.#knownPid !== pid) proc.#knownPid = pid;
      if (!proc.#started) proc.#started = true;
      if (watch !== undefined && (proc.#handle === undefined || proc.#handle.pid !== pid)) proc.#handle = watch(pid);
      return proc;
    };
  }
}

/** Makes `proc` this process's own Process object, as a child sees it. Internal: for bootstraps. */
export function adoptAsCurrent(proc: Process, who: ChildIdentity): void {
  adopt(proc, who);
}

/**
 * @internal In a parent about to fork (#23): runs what a fork child's way
 * into its Process runs after a target that returns a promise (a fork Pool's
 * worker), so that no child compiles it on fresh heap pages, each a
 * copy-on-write fault. Harmless: nothing is adopted, no descriptor stays.
 */
export function warmUpInheritedChild(): void {
  // The rest of the way in runs dry through `inheritedWarmUpLaunch`, whose target returns no promise.
  void runProcess(scratchProcess({ target: warmUpAsyncTarget }));
}

/** The library's Process class (Process, or a context's) of the last child started by a backend that inherits memory. */
let inheritedClass: typeof Process = Process;

/** A Process that is not a child (a description, or a warm-up's): it uses up no child number. */
function scratchProcess(opts: ProcessOptions, cls: typeof Process = Process): Process {
  // Process's own constructor, as an instance of `cls`: of the shape a child of that class has.
  const proc = Reflect.construct(Process, [opts], cls) as Process;
  childCounter -= 1;
  return proc;
}

/**
 * @internal A fork launch as `start()` makes one, of a scratch Process whose
 * child's way in runs dry (changing nothing of this process) and whose target
 * does nothing: the fork backend runs a child's way in on it before its first
 * fork, so that its caches hold the shapes real launches have (#23).
 */
export function inheritedWarmUpLaunch(): InheritedLaunch {
  return warmUpLaunch();
}

function warmUpTarget(): void {}

async function warmUpAsyncTarget(): Promise<void> {}

/**
 * @internal In a parent about to fork (#23): makes what its fork children
 * take instead of making it themselves (this process as they see it), once
 * per process.
 */
export function prepareInheritedChild(): void {
  if (describedForChildren?.by === process.pid) return;
  // With its watch: a ParentWatch opens its pidfd at its first use, so one made here serves every fork child.
  describedForChildren = { by: process.pid, proc: describe(currentProcess().name, process.pid, watchParent) };
}

/** Runs `proc.run()` to completion: 0, or 1 after printing an uncaught error (a promise of it when run() returned one). */
export function runProcess(proc: Process): number | Promise<number> {
  return runToExitCode(proc);
}

/** The Process object of the caller (Python: `current_process`); "MainProcess" in the main program. */
export function currentProcess(): Process {
  current ??= describe("MainProcess", process.pid);
  return current;
}

/** The parent's Process object, or null in the main program (Python: `parent_process`). */
export function parentProcess(): Process | null {
  currentProcess();
  return parent;
}

function reapFinished(): void {
  // Only when there are some: iterating an empty Set still makes an iterator (a page the parent writes per start).
  if (children.size === 0) return;
  for (const child of children) child.exitCode; // reading it settles finished children
}

/** Live children of this process; finished ones are reaped (Python: `active_children`). */
export function activeChildren(): Process[] {
  reapFinished();
  return [...children];
}

/** Number of CPUs usable by this process (Python: `cpu_count`). */
export function cpuCount(): number {
  // node:os only here: importing it costs each child realm time at start.
  const { availableParallelism } = require("node:os") as typeof import("node:os");
  return availableParallelism();
}

/** Whether this daemonic process may start children (see `allowDaemonChildren`). */
let daemonMayHaveChildren = false;

/**
 * @internal A manager's server process is daemonic so that it ends with the
 * program that started it; like Python's (non-daemonic) server, it may still
 * start children: the workers of a manager Pool.
 */
export function allowDaemonChildren(): void {
  daemonMayHaveChildren = true;
}

let exitHookInstalled = false;

/**
 * At exit, like Python: daemon children are terminated, the others joined.
 * A fork child keeps this listener from its parent: it acts on the children
 * of whichever process runs it.
 */
function joinChildrenAtExit(): void {
  const live = activeChildren();
  for (const child of live) if (child.daemon) child.terminate();
  for (const child of live) {
    child.joinSync(child.daemon ? DAEMON_GRACE_MS : undefined);
    if (child.exitCode === null) child.kill();
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", joinChildrenAtExit);
}

/** @internal The library's own `exit` listener, which a fork child keeps when it drops its parent's listeners. */
export const libraryExitListener: () => void = joinChildrenAtExit;

/** @internal Whether this process has children not yet seen to end: then its exit has the library's listener to run. */
export function hasChildren(): boolean {
  return children.size > 0;
}

// Last, once every binding above is initialised: a child its bootstrap
// recorded before this file loaded (child-identity.ts) gets its Process object now.
adoptRecordedChildren((child) => {
  const proc = new Process(child.opts);
  Object.assign(proc, child.fields);
  adopt(proc, child.who);
  child.proc = proc;
});
