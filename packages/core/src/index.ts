/**
 * @multiproc/core: Python's `multiprocessing` for TypeScript on Bun. The same
 * API as a Python user knows, camelCased, with times in milliseconds; the
 * module-level names are bound to the default context.
 *
 * @module @multiproc/core
 */
import { getContext } from "./context.ts";
// The module of each library class loads when its first object is made or arrives.
import "./class-modules.ts";

export type {
  Backend,
  BackendCapabilities,
  ChildHandle,
  ImportedLaunch,
  InheritedLaunch,
  LaunchRequest,
} from "./backend.ts";
export { type BackendName, backendNames } from "./config.ts";
export { type Context, getAllStartMethods, getContext } from "./context.ts";
// From the files themselves, not the folders' index files: importing this
// module loads only what these names need (each module costs a child realm's start).
import type { Waitable } from "./channel/connection-wait.ts";
import type { Address, ClientOptions, Listener as ListenerClass } from "./channel/listener.ts";
import type { Connection as ConnectionClass } from "./channel/connection.ts";
import {
  baseManagerModule,
  connectionModule,
  connectionWaitModule,
  lazyClass,
  listenerModule,
  managerModule,
  proxyModule,
} from "./class-modules.ts";
import type { BaseManager as BaseManagerClass } from "./managers/base-manager.ts";
import type { SyncManager as SyncManagerClass } from "./managers/manager.ts";
import type { BaseProxy as BaseProxyClass } from "./managers/proxy.ts";
export type { ManagerOptions, RegisterOptions } from "./managers/base-manager.ts";
export type { DictKey, DictProxy } from "./managers/dict-proxy.ts";
export type { ListProxy } from "./managers/list-proxy.ts";
export type { ConditionProxy } from "./managers/condition-proxy.ts";
export type { RLockProxy } from "./managers/rlock-proxy.ts";
export type { AsyncResultProxy, IteratorProxy, PoolProxy, ProxiedTaskOptions } from "./managers/pool-proxy.ts";
export type { NamespaceProxy } from "./managers/namespace-proxy.ts";
export type { AutoProxy, ProxyClass, ProxyState } from "./managers/proxy.ts";
export type { Server as ManagerServer } from "./managers/server.ts";
export type {
  AcquirerProxy,
  ArrayProxy,
  BarrierProxy,
  EventProxy,
  QueueProxy,
  ValueProxy,
} from "./managers/sync-proxies.ts";
export type { Waitable } from "./channel/connection-wait.ts";
export type { Address, ClientOptions, ListenerOptions } from "./channel/listener.ts";
export { allowImports } from "./codec/exports.ts";
export type { QueueWaitOptions } from "./channel/index.ts";
import type {
  JoinableQueue as JoinableQueueClass,
  Queue as QueueClass,
  SimpleQueue as SimpleQueueClass,
} from "./channel/index.ts";
export {
  AbandonedLockError,
  AuthenticationError,
  BackendError,
  SharedMemoryError,
  BrokenBarrierError,
  ConfigError,
  Empty,
  EOFError,
  Full,
  MultiprocError,
  PicklingError,
  ProcessError,
  TimeoutError,
} from "./errors.ts";
export {
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
  type ProcessOptions,
  type Target,
} from "./process.ts";
export { getStartMethod, setStartMethod } from "./start-method.ts";
import type { Pool as PoolClass } from "./pool/index.ts";
import type { AsyncResult as AsyncResultClass } from "./pool/async-result.ts";
export type { ResultCallbacks } from "./pool/async-result.ts";
export type { ApplyOptions, PoolOptions } from "./pool/index.ts";
export type { ClusterOptions, ClusterPool, ClusterPoolOptions, ClusterTlsOptions } from "./pool/cluster-pool.ts";
export type { ClusterQueue, ClusterQueueOptions, ClusterQueueWait } from "./channel/cluster-queue.ts";
import type { Lock as LockClass, RLock as RLockClass } from "./sync/index.ts";
export type { AcquireOptions, Held } from "./sync/index.ts";
import type {
  SharedTypedArray,
  SharedValue,
  SynchronizedTypedArray,
  SynchronizedValue,
  Typecode,
} from "./shared/index.ts";
import type {
  Barrier as BarrierClass,
  BoundedSemaphore as BoundedSemaphoreClass,
  Condition as ConditionClass,
  Event as EventClass,
  Semaphore as SemaphoreClass,
} from "./sync/index.ts";
export type { BarrierAction } from "./sync/index.ts";
export type {
  ArrayInit,
  BigTypecode,
  ElementOf,
  InitOf,
  SharedOptions,
  SharedTypedArray,
  SharedValue,
  SynchronizedTypedArray,
  SynchronizedValue,
  Typecode,
  TypedArrayOf,
} from "./shared/index.ts";

import type {
  ShareableList as ShareableListClass,
  SharedMemory as SharedMemoryClass,
  SharedMemoryManager as SharedMemoryManagerClass,
} from "./shared-memory/index.ts";
export type { ShareableListOptions, ShareableValue, SharedMemoryOptions } from "./shared-memory/index.ts";

const defaultContext = getContext();

/** A new Lock (Python: `multiprocessing.Lock()`). */
export const Lock = defaultContext.Lock;
export type Lock = LockClass;
/** A new RLock (Python: `multiprocessing.RLock()`). */
export const RLock = defaultContext.RLock;
export type RLock = RLockClass;
/** A new Semaphore, default value 1 (Python: `multiprocessing.Semaphore(value)`). */
export const Semaphore = defaultContext.Semaphore;
export type Semaphore = SemaphoreClass;
/** A new BoundedSemaphore (Python: `multiprocessing.BoundedSemaphore(value)`). */
export const BoundedSemaphore = defaultContext.BoundedSemaphore;
export type BoundedSemaphore = BoundedSemaphoreClass;
/** A new Condition over a Lock or RLock, default a new RLock (Python: `multiprocessing.Condition(lock)`). */
export const Condition = defaultContext.Condition;
export type Condition = ConditionClass;
/** A new Event (Python: `multiprocessing.Event()`). */
export const Event = defaultContext.Event;
export type Event = EventClass;
/** A new Barrier (Python: `multiprocessing.Barrier(parties, action, timeout)`). */
export const Barrier = defaultContext.Barrier;
export type Barrier = BarrierClass;
/** A shared number guarded by an RLock (Python: `multiprocessing.Value(typecode, value)`). */
export const Value = defaultContext.Value;
export type Value<T extends number | bigint = number> = SynchronizedValue<T>;
/** A shared number without a lock (Python: `multiprocessing.RawValue(typecode, value)`). */
export const RawValue = defaultContext.RawValue;
export type RawValue<T extends number | bigint = number> = SharedValue<T>;
/**
 * A typed array over shared memory guarded by an RLock (Python:
 * `multiprocessing.Array`; named so it does not hide the global `Array`).
 */
export const SharedArray = defaultContext.Array;
export type SharedArray<C extends Typecode = Typecode> = SynchronizedTypedArray<C>;
/** A typed array over shared memory without a lock (Python: `multiprocessing.RawArray`). */
export const RawArray = defaultContext.RawArray;
export type RawArray<C extends Typecode = Typecode> = SharedTypedArray<C>;
/** Two connected Connections (Python: `multiprocessing.Pipe(duplex)`). */
export const Pipe = defaultContext.Pipe;
/** A new process-shared FIFO queue (Python: `multiprocessing.Queue(maxsize)`). */
export const Queue = defaultContext.Queue;
export type Queue<T = unknown> = QueueClass<T>;
/** A new queue with `taskDone` and `join` (Python: `multiprocessing.JoinableQueue(maxsize)`). */
export const JoinableQueue = defaultContext.JoinableQueue;
export type JoinableQueue<T = unknown> = JoinableQueueClass<T>;
/** A new unbounded queue (Python: `multiprocessing.SimpleQueue()`). */
export const SimpleQueue = defaultContext.SimpleQueue;
export type SimpleQueue<T = unknown> = SimpleQueueClass<T>;
/** A new pool of worker processes (Python: `multiprocessing.Pool(processes)`). */
export const Pool = defaultContext.Pool;
export type Pool = PoolClass;
/** A named shared memory segment (Python: `multiprocessing.shared_memory.SharedMemory`); its module loads at first use. */
export const SharedMemory = defaultContext.SharedMemory;
export type SharedMemory = SharedMemoryClass;
/** A fixed-length list in shared memory, Python's layout (Python: `shared_memory.ShareableList`). */
export const ShareableList = defaultContext.ShareableList;
export type ShareableList = ShareableListClass;
/** Makes segments and unlinks them at shutdown or the program's end (Python: `managers.SharedMemoryManager`). */
export const SharedMemoryManager = defaultContext.SharedMemoryManager;
export type SharedMemoryManager = SharedMemoryManagerClass;

/**
 * Starts a manager's server process and returns the SyncManager (Python:
 * `multiprocessing.Manager()`): `await using m = await Manager(); const d = await m.dict();`.
 */
export const Manager = defaultContext.Manager;
/** A manager of the usual shared types (Python: `managers.SyncManager`); its module loads at first use. */
export const SyncManager = lazyClass(() => managerModule().SyncManager);
export type SyncManager = SyncManagerClass;
/** A manager of registered types (Python: `managers.BaseManager`); subclass it and `register` types. */
export const BaseManager = lazyClass(() => baseManagerModule().BaseManager);
export type BaseManager = BaseManagerClass;
/** The base class of manager proxies (Python: `managers.BaseProxy`). */
export const BaseProxy = lazyClass(() => proxyModule().BaseProxy);
export type BaseProxy = BaseProxyClass;

/**
 * One end of a Pipe, or a connection to or from a Listener (Python:
 * `multiprocessing.connection.Connection`); its module loads with the first
 * Connection made or received: a realm that has none never pays for the channels.
 */
export const Connection = lazyClass(() => connectionModule().Connection);
/** A Pool job's pending result (Python: `AsyncResult`); its module loads with the first Pool. */
export const AsyncResult = lazyClass(
  () => (require("./pool/async-result.ts") as typeof import("./pool/async-result.ts")).AsyncResult,
);
export type AsyncResult<T = unknown> = AsyncResultClass<T>;
export type Connection = ConnectionClass;

/**
 * A socket that accepts connections from other programs, on a unix socket
 * path or TCP `[host, port]`, optionally with an auth key (Python:
 * `multiprocessing.connection.Listener`).
 */
export const Listener = lazyClass(() => listenerModule().Listener);
export type Listener = ListenerClass;

/**
 * Connects to a `Listener` (Python: `multiprocessing.connection.Client`).
 * @throws BackendError with `code` "ENOENT" or "ECONNREFUSED" when nobody listens there
 * @throws AuthenticationError when the auth keys differ
 */
export function Client(address: Address, opts?: ClientOptions): Promise<ConnectionClass> {
  return listenerModule().Client(address, opts);
}

/** Blocking form of `Client`. */
export function ClientSync(address: Address, opts?: ClientOptions): ConnectionClass {
  return listenerModule().ClientSync(address, opts);
}

/**
 * The ready ones among Connections (a message or the end of the stream to
 * receive), Processes (ended) and descriptors (readable), waiting at most
 * `timeout` ms (Python: `multiprocessing.connection.wait`).
 */
export function wait<T extends Waitable>(objects: readonly T[], timeout?: number): Promise<T[]> {
  return connectionWaitModule().wait(objects, timeout);
}

/** Blocking form of `wait`. */
export function waitSync<T extends Waitable>(objects: readonly T[], timeout?: number): T[] {
  return connectionWaitModule().waitSync(objects, timeout);
}
