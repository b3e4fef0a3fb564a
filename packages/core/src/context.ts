/**
 * Contexts: every factory of the API bound to one backend, so
 * `const mp = getContext("fork")` reads like Python's `multiprocessing`.
 * (Python: `multiprocessing.context`, without its indirection.)
 */
import { loadBackend } from "./backend-registry.ts";
import {
  arrayModule,
  barrierModule,
  boundedModule,
  conditionModule,
  eventModule,
  joinableModule,
  lockModule,
  managerModule,
  pipeModule,
  poolModule,
  queueModule,
  rlockModule,
  SharedMemoryClass,
  SharedMemoryManagerClass,
  semaphoreModule,
  ShareableListClass,
  simpleQueueModule,
  valueModule,
} from "./class-modules.ts";
import { type BackendName, backendNames, parseBackendName } from "./config.ts";
import { ProcessError } from "./errors.ts";
import { activeChildren, boundToContext, cpuCount, currentProcess, parentProcess, Process } from "./process.ts";
import { getStartMethod, setStartMethod } from "./start-method.ts";
import type { Connection, JoinableQueue, Queue, SimpleQueue } from "./channel/index.ts";
import type { ManagerOptions } from "./managers/base-manager.ts";
import type { SyncManager } from "./managers/manager.ts";
import type { Pool, PoolOptions } from "./pool/index.ts";
import type { ClusterPool, ClusterPoolOptions } from "./pool/cluster-pool.ts";
import { isClusterPoolOptions, isClusterQueueOptions, loadCluster } from "./cluster-registry.ts";
import type { ClusterQueue, ClusterQueueOptions } from "./channel/cluster-queue.ts";
import type { RawArray, RawValue, SharedArray, Value } from "./shared/index.ts";
import type { ShareableList, SharedMemory, SharedMemoryManager } from "./shared-memory/index.ts";
import type {
  Barrier,
  BarrierAction,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "./sync/index.ts";

// The shared-memory factories keep their overloaded signatures.
const lazyValue = ((...args: Parameters<typeof Value>) => valueModule().Value(...args)) as typeof Value;
const lazyRawValue = ((...args: Parameters<typeof RawValue>) => valueModule().RawValue(...args)) as typeof RawValue;
const lazyArray = ((...args: Parameters<typeof SharedArray>) =>
  arrayModule().SharedArray(...args)) as typeof SharedArray;
const lazyRawArray = ((...args: Parameters<typeof RawArray>) => arrayModule().RawArray(...args)) as typeof RawArray;

/** The API of `multiprocessing`, bound to one backend (Python: a context object). */
export interface Context {
  /** The backend of this context; undefined for the default context, which follows `setStartMethod`. */
  readonly startMethod: BackendName | undefined;
  /** The Process class whose instances start on this context's backend. */
  readonly Process: typeof Process;
  /** A new non-recursive lock (Python: `ctx.Lock()`). */
  Lock(): Lock;
  /** A new recursive lock (Python: `ctx.RLock()`). */
  RLock(): RLock;
  /** A new counting semaphore, default value 1 (Python: `ctx.Semaphore(value)`). */
  Semaphore(value?: number): Semaphore;
  /** A new semaphore whose release past its initial value throws (Python: `ctx.BoundedSemaphore(value)`). */
  BoundedSemaphore(value?: number): BoundedSemaphore;
  /** A new condition variable over `lock`, default a new RLock (Python: `ctx.Condition(lock)`). */
  Condition(lock?: Lock | RLock): Condition;
  /** A new event, initially clear (Python: `ctx.Event()`). */
  Event(): Event;
  /** A new barrier for `parties` parties (Python: `ctx.Barrier(parties, action, timeout)`). */
  Barrier(parties: number, action?: BarrierAction, timeout?: number): Barrier;
  /** A shared number, synchronized by default (Python: `ctx.Value(typecode, value, lock=True)`). */
  Value: typeof Value;
  /** A shared number without a lock (Python: `ctx.RawValue(typecode, value)`). */
  RawValue: typeof RawValue;
  /** A typed array over shared memory, synchronized by default (Python: `ctx.Array(typecode, size_or_init, lock=True)`). */
  Array: typeof SharedArray;
  /** A typed array over shared memory without a lock (Python: `ctx.RawArray(typecode, size_or_init)`). */
  RawArray: typeof RawArray;
  /** Two connected Connections; one-way `[reader, writer]` when `duplex` is false (Python: `ctx.Pipe(duplex)`). */
  Pipe(duplex?: boolean): [Connection, Connection];
  /** A new process-shared FIFO queue; `maxsize` 0 for no limit (Python: `ctx.Queue(maxsize)`). */
  Queue<T = unknown>(maxsize?: number): Queue<T>;
  /**
   * A queue kept by a NATS JetStream broker, shared by every process on any
   * host that names it (API.md "Beyond one machine"); needs `@multiproc/cluster`.
   * @throws ConfigError when the package is missing or an option is bad
   */
  Queue<T = unknown>(opts: ClusterQueueOptions): ClusterQueue<T>;
  /** A new queue with `taskDone` and `join` (Python: `ctx.JoinableQueue(maxsize)`). */
  JoinableQueue<T = unknown>(maxsize?: number): JoinableQueue<T>;
  /** A new unbounded queue with Python's small method set (Python: `ctx.SimpleQueue()`). */
  SimpleQueue<T = unknown>(): SimpleQueue<T>;
  /**
   * A pool of worker processes, `cpuCount()` by default (Python: `ctx.Pool(processes, initializer, initargs, maxtasksperchild)`).
   * @throws ConfigError naming a bad option
   */
  Pool(processes?: number | PoolOptions): Pool;
  /**
   * A pool whose workers are `multiproc worker` hosts serving `name` through a
   * NATS JetStream broker (API.md "Beyond one machine"); needs `@multiproc/cluster`.
   * @throws ConfigError when the package is missing or an option is bad
   */
  Pool(opts: ClusterPoolOptions): ClusterPool;
  /**
   * Starts a SyncManager whose server process runs on this context's backend
   * (Python: `ctx.Manager()`).
   */
  Manager(opts?: Omit<ManagerOptions, "startMethod">): Promise<SyncManager>;
  /** The SharedMemory class: `new mp.SharedMemory({ create: true, size })` (Python: `shared_memory.SharedMemory`). */
  readonly SharedMemory: typeof SharedMemory;
  /** The ShareableList class: `new mp.ShareableList(items)` (Python: `shared_memory.ShareableList`). */
  readonly ShareableList: typeof ShareableList;
  /** The SharedMemoryManager class (Python: `managers.SharedMemoryManager`). */
  readonly SharedMemoryManager: typeof SharedMemoryManager;
  /** The context of backend `name`; with no name, this context itself (Python: `ctx.get_context()`). */
  getContext(name?: BackendName): Context;
  /** This context's backend; for the default context, the default start method. */
  getStartMethod(): BackendName;
  /**
   * Sets the default start method; only the default context can (Python: `set_start_method`).
   * @throws ProcessError on a context bound to a backend; ConfigError as the module's `setStartMethod`
   */
  setStartMethod(name: BackendName, opts?: { force?: boolean }): void;
  getAllStartMethods(): BackendName[];
  currentProcess(): Process;
  parentProcess(): Process | null;
  activeChildren(): Process[];
  cpuCount(): number;
}

const contexts = new Map<BackendName | undefined, Context>();

function makeContext(name: BackendName | undefined): Context {
  let BoundProcess = Process;
  if (name !== undefined) {
    // A plain subclass that only names its backend; it counts as the base
    // class when a child rebuilds it (see `boundToContext`).
    BoundProcess = class Process<A extends unknown[] = unknown[]> extends BaseProcess<A> {
      static override startMethod: BackendName | undefined = name;
      static readonly [boundToContext] = true;
    };
  }
  const ctx: Context = {
    startMethod: name,
    Process: BoundProcess,
    Lock: () => new (lockModule().Lock)(),
    RLock: () => new (rlockModule().RLock)(),
    Semaphore: (value?: number) => new (semaphoreModule().Semaphore)(value),
    BoundedSemaphore: (value?: number) => new (boundedModule().BoundedSemaphore)(value),
    Condition: (lock?: Lock | RLock) => new (conditionModule().Condition)(lock),
    Event: () => new (eventModule().Event)(),
    Barrier: (parties: number, action?: BarrierAction, timeout?: number) =>
      new (barrierModule().Barrier)(parties, action, timeout),
    Value: lazyValue,
    RawValue: lazyRawValue,
    Array: lazyArray,
    RawArray: lazyRawArray,
    Pipe: (duplex?: boolean) => pipeModule().Pipe(duplex),
    Queue: (<T>(maxsize?: number | ClusterQueueOptions) => {
      if (isClusterQueueOptions(maxsize)) return loadCluster().Queue<T>(maxsize);
      const { Queue } = queueModule();
      return new Queue<T>(maxsize);
    }) as Context["Queue"],
    JoinableQueue: <T>(maxsize?: number) => {
      const { JoinableQueue } = joinableModule();
      return new JoinableQueue<T>(maxsize);
    },
    SimpleQueue: <T>() => {
      const { SimpleQueue } = simpleQueueModule();
      return new SimpleQueue<T>();
    },
    Pool: ((processes?: number | PoolOptions | ClusterPoolOptions) => {
      // Before parsePoolOptions, which refuses keys it does not know.
      if (isClusterPoolOptions(processes)) return loadCluster().Pool(processes);
      const { parsePoolOptions, Pool } = poolModule();
      const opts = parsePoolOptions(processes, cpuCount());
      // The backend is fixed when the pool starts, as its workers are.
      const backend = name ?? getStartMethod();
      const { inheritsMemory } = loadBackend(backend).capabilities;
      return new Pool(getContext(backend).Process, backend, inheritsMemory, opts);
    }) as Context["Pool"],
    Manager: (opts?: Omit<ManagerOptions, "startMethod">) =>
      managerModule().Manager({ ...opts, startMethod: name ?? getStartMethod() }),
    // Not bound to a backend: a segment is the same on every one.
    SharedMemory: SharedMemoryClass,
    ShareableList: ShareableListClass,
    SharedMemoryManager: SharedMemoryManagerClass,
    // Python: `ctx.get_context()` is `ctx` itself.
    getContext: (method?: BackendName) => (method === undefined ? ctx : getContext(method)),
    getStartMethod: () => name ?? getStartMethod(),
    setStartMethod: name === undefined ? setStartMethod : () => refuseStartMethod(name),
    getAllStartMethods,
    currentProcess,
    parentProcess,
    activeChildren,
    cpuCount,
  };
  return ctx;
}

/**
 * A bound context's `setStartMethod` (Python: ValueError "cannot set start
 * method of concrete context"): it never changes the default.
 * @throws ProcessError always
 */
function refuseStartMethod(bound: BackendName): never {
  throw new ProcessError(
    `Cannot set the start method of the "${bound}" context: it is bound to "${bound}"; call setStartMethod() of the module (the default context) to change the default`,
  );
}
const BaseProcess = Process;

/**
 * The context of backend `name`, or the default context (which follows
 * `setStartMethod` and the configuration) when no name is given.
 * @throws ConfigError for an unknown name
 * @example
 * const mp = getContext("spawn");
 * const p = new mp.Process({ target: work });
 */
export function getContext(name?: BackendName): Context {
  const key = name === undefined ? undefined : parseBackendName(name, "context name");
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = makeContext(key);
    contexts.set(key, ctx);
  }
  return ctx;
}

/** The backends usable on this platform (Python: `get_all_start_methods`). */
export function getAllStartMethods(): BackendName[] {
  return backendNames.filter((name) => {
    try {
      return loadBackend(name).capabilities.available;
    } catch {
      return false;
    }
  });
}
