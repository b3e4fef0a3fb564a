/**
 * SyncManager and `Manager()` (Python: `multiprocessing.managers.SyncManager`,
 * `multiprocessing.Manager()`): a BaseManager with dict, list, Namespace,
 * Value, Array, Lock, RLock, Condition, Pool, Semaphore, BoundedSemaphore, Event, Barrier, Queue and
 * JoinableQueue registered.
 */
import { BaseManager, type ManagerOptions } from "./base-manager.ts";
import { type DictKey, DictProxy } from "./dict-proxy.ts";
import { ListProxy } from "./list-proxy.ts";
import { NamespaceProxy } from "./namespace-proxy.ts";
import type { PoolOptions } from "../pool/pool-options.ts";
import { ConditionProxy } from "./condition-proxy.ts";
import { AsyncResultProxy, IteratorProxy, PoolProxy } from "./pool-proxy.ts";
import { ServerPool } from "./server-pool.ts";
import { type BaseProxy, STATE } from "./proxy.ts";
import { RLockProxy } from "./rlock-proxy.ts";
import { ServerCondition } from "./server-condition.ts";
import { ServerRLock } from "./server-rlock.ts";
import * as types from "./server-types.ts";
import { AcquirerProxy, ArrayProxy, BarrierProxy, EventProxy, QueueProxy, ValueProxy } from "./sync-proxies.ts";

/**
 * A manager of the usual shared types (Python: `SyncManager`); made and
 * started by `Manager()`.
 */
export class SyncManager extends BaseManager {
  /** A new dict on the server (Python: `dict(init)`). */
  dict<K extends DictKey = DictKey, V = unknown>(
    init?: Record<string, V> | Iterable<[K, V]>,
  ): Promise<DictProxy<K, V>> {
    return this._create("dict", [dictInit(init)]) as Promise<DictProxy<K, V>>;
  }
  dictSync<K extends DictKey = DictKey, V = unknown>(init?: Record<string, V> | Iterable<[K, V]>): DictProxy<K, V> {
    return this._createSync("dict", [dictInit(init)]) as DictProxy<K, V>;
  }
  /** A new list on the server (Python: `list(init)`). */
  list<V = unknown>(init?: Iterable<V>): Promise<ListProxy<V>> {
    return this._create("list", [init === undefined ? null : [...init]]) as Promise<ListProxy<V>>;
  }
  listSync<V = unknown>(init?: Iterable<V>): ListProxy<V> {
    return this._createSync("list", [init === undefined ? null : [...init]]) as ListProxy<V>;
  }
  /** A new Namespace (Python: `Namespace(**init)`): `ns.x = 1; ns.x`. */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this._create("Namespace", [init ?? null]) as Promise<NamespaceProxy>;
  }
  NamespaceSync(init?: Record<string, unknown>): NamespaceProxy {
    return this._createSync("Namespace", [init ?? null]) as NamespaceProxy;
  }
  /** A value holder (Python: `Value(typecode, value)`). */
  Value<T = number>(typecode: string, value: T): Promise<ValueProxy<T>> {
    return this._create("Value", [typecode, value]) as Promise<ValueProxy<T>>;
  }
  /** A fixed-length array (Python: `Array(typecode, sequence)`). */
  Array<T = number>(typecode: string, init: Iterable<T> | number): Promise<ArrayProxy<T>> {
    return this._create("Array", [typecode, typeof init === "number" ? init : [...init]]) as Promise<ArrayProxy<T>>;
  }
  Lock(): Promise<AcquirerProxy> {
    return this._create("Lock", []) as Promise<AcquirerProxy>;
  }
  /** A re-entrant lock owned by the calling thread of the calling process (Python: `RLock()`). */
  RLock(): Promise<RLockProxy> {
    return this._create("RLock", []) as Promise<RLockProxy>;
  }
  RLockSync(): RLockProxy {
    return this._createSync("RLock", []) as RLockProxy;
  }
  /** A Condition over `lock` (a manager Lock or RLock proxy), default a new RLock (Python: `Condition(lock)`). */
  Condition(lock?: AcquirerProxy | RLockProxy): Promise<ConditionProxy> {
    return this._create("Condition", [conditionLock(lock)]) as Promise<ConditionProxy>;
  }
  ConditionSync(lock?: AcquirerProxy | RLockProxy): ConditionProxy {
    return this._createSync("Condition", [conditionLock(lock)]) as ConditionProxy;
  }
  /**
   * A Pool in the server process, of its backend (Python: `SyncManager.Pool`);
   * task functions must be exported; callbacks run in the caller's process.
   */
  Pool(processes?: number | PoolOptions): Promise<PoolProxy> {
    return this._create("Pool", [processes ?? null]) as Promise<PoolProxy>;
  }
  PoolSync(processes?: number | PoolOptions): PoolProxy {
    return this._createSync("Pool", [processes ?? null]) as PoolProxy;
  }
  Semaphore(value = 1): Promise<AcquirerProxy> {
    return this._create("Semaphore", [value]) as Promise<AcquirerProxy>;
  }
  BoundedSemaphore(value = 1): Promise<AcquirerProxy> {
    return this._create("BoundedSemaphore", [value]) as Promise<AcquirerProxy>;
  }
  Event(): Promise<EventProxy> {
    return this._create("Event", []) as Promise<EventProxy>;
  }
  /** A barrier for `parties` (the action, if any, must be exported: it runs in the server). */
  Barrier(parties: number, action?: () => unknown, timeout?: number): Promise<BarrierProxy> {
    return this._create("Barrier", [parties, action, timeout]) as Promise<BarrierProxy>;
  }
  Queue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return this._create("Queue", [maxsize]) as Promise<QueueProxy<T>>;
  }
  JoinableQueue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return this._create("JoinableQueue", [maxsize]) as Promise<QueueProxy<T>>;
  }
}

/** Checks at the caller that a Condition's lock is a manager Lock or RLock (a Semaphore is not). */
function conditionLock(lock: unknown): BaseProxy | null {
  if (lock === undefined || lock === null) return null;
  if (lock instanceof RLockProxy || (lock instanceof AcquirerProxy && lock[STATE].typeid === "Lock")) return lock;
  throw new TypeError(`Condition lock must be a manager Lock or RLock proxy, got ${String(lock)}`);
}

function dictInit(init: unknown): unknown {
  if (init === undefined || init === null) return null;
  if (typeof init === "object" && Symbol.iterator in init) return [...(init as Iterable<unknown>)];
  return init;
}

const create = { createMethod: false } as const;
SyncManager.register("dict", types.ServerDict, { ...create, proxyType: DictProxy });
SyncManager.register("list", types.ServerList, { ...create, proxyType: ListProxy });
SyncManager.register("Namespace", types.ServerNamespace, { ...create, proxyType: NamespaceProxy });
SyncManager.register("Value", types.ServerValue, { ...create, proxyType: ValueProxy });
SyncManager.register("Array", types.ServerArray, { ...create, proxyType: ArrayProxy });
SyncManager.register("Lock", types.makeLock, { ...create, proxyType: AcquirerProxy });
SyncManager.register("RLock", ServerRLock, { ...create, proxyType: RLockProxy });
SyncManager.register("Condition", ServerCondition, { ...create, proxyType: ConditionProxy });
SyncManager.register("Pool", ServerPool, {
  ...create,
  proxyType: PoolProxy,
  methodToTypeid: {
    applyAsync: "AsyncResult",
    mapAsync: "AsyncResult",
    starmapAsync: "AsyncResult",
    imap: "Iterator",
    imapUnordered: "Iterator",
  },
});
SyncManager.register("AsyncResult", null, { ...create, proxyType: AsyncResultProxy });
SyncManager.register("Iterator", null, { ...create, proxyType: IteratorProxy });
SyncManager.register("Semaphore", types.makeSemaphore, { ...create, proxyType: AcquirerProxy });
SyncManager.register("BoundedSemaphore", types.makeBoundedSemaphore, { ...create, proxyType: AcquirerProxy });
SyncManager.register("Event", types.makeEvent, { ...create, proxyType: EventProxy });
SyncManager.register("Barrier", types.ServerBarrier, { ...create, proxyType: BarrierProxy });
SyncManager.register("Queue", types.makeQueue, { ...create, proxyType: QueueProxy });
SyncManager.register("JoinableQueue", types.makeJoinableQueue, { ...create, proxyType: QueueProxy });

/**
 * Starts a SyncManager's server process and returns the manager (Python:
 * `multiprocessing.Manager()`).
 * @example
 * ```ts
 * await using m = await Manager();
 * const d = await m.dict();
 * await d.set("k", 1);
 * ```
 */
export async function Manager(opts?: ManagerOptions): Promise<SyncManager> {
  const m = new SyncManager(opts);
  await m.start();
  return m;
}
