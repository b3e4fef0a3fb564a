/**
 * Proxies of the SyncManager's small types (Python: `ValueProxy`,
 * `ArrayProxy`, `AcquirerProxy`, `EventProxy`, `BarrierProxy` and the queue
 * AutoProxy): each method one call to the server, in both forms. A wait
 * (acquire, wait, get) waits on the server, which never blocks for it.
 */
import type { QueueWaitOptions } from "../channel/queue.ts";
import { type Held, held } from "../sync/held.ts";
import type { AcquireOptions } from "../sync/sem-lock.ts";
import { BaseProxy } from "./proxy.ts";

/** A proxy of a manager Value (Python: `ValueProxy`; `value` as `get()`/`set(v)`). */
export class ValueProxy<T = unknown> extends BaseProxy {
  static readonly proxyKind = "value";
  get(): Promise<T> {
    return this._callMethod("get") as Promise<T>;
  }
  getSync(): T {
    return this._callMethodSync("get") as T;
  }
  async set(value: T): Promise<void> {
    await this._callMethod("set", [value]);
  }
  setSync(value: T): void {
    this._callMethodSync("set", [value]);
  }
  /** Python's `value`, read and written blocking. */
  get value(): T {
    return this.getSync();
  }
  set value(v: T) {
    this.setSync(v);
  }
}

/** A proxy of a manager Array (Python: `ArrayProxy`). */
export class ArrayProxy<T = number> extends BaseProxy {
  static readonly proxyKind = "array";
  get(i: number): Promise<T> {
    return this._callMethod("get", [i]) as Promise<T>;
  }
  getSync(i: number): T {
    return this._callMethodSync("get", [i]) as T;
  }
  async set(i: number, value: T): Promise<void> {
    await this._callMethod("set", [i, value]);
  }
  setSync(i: number, value: T): void {
    this._callMethodSync("set", [i, value]);
  }
  length(): Promise<number> {
    return this._callMethod("length") as Promise<number>;
  }
  lengthSync(): number {
    return this._callMethodSync("length") as number;
  }
  toArray(): Promise<T[]> {
    return this._callMethod("toArray") as Promise<T[]>;
  }
  toArraySync(): T[] {
    return this._callMethodSync("toArray") as T[];
  }
}

type WaitOpts = Omit<AcquireOptions, "onAbandoned">;

/** A proxy of a manager Lock or Semaphore (Python: `AcquirerProxy`); `hold()` as a local one's. */
export class AcquirerProxy extends BaseProxy {
  static readonly proxyKind = "lock";
  acquire(opts?: WaitOpts): Promise<boolean> {
    return this._callMethod("acquire", opts === undefined ? [] : [opts]) as Promise<boolean>;
  }
  acquireSync(opts?: WaitOpts): boolean {
    return this._callMethodSync("acquire", opts === undefined ? [] : [opts]) as boolean;
  }
  async release(): Promise<void> {
    await this._callMethod("release");
  }
  releaseSync(): void {
    this._callMethodSync("release");
  }
  /** Acquires and returns a guard whose dispose releases (`using _ = await lock.hold()`). @throws TimeoutError */
  async hold(opts?: WaitOpts): Promise<Held> {
    return held({ release: () => this.releaseSync() }, await this.acquire(opts), opts?.timeout);
  }
  holdSync(opts?: WaitOpts): Held {
    return held({ release: () => this.releaseSync() }, this.acquireSync(opts), opts?.timeout);
  }
}

/** A proxy of a manager Event (Python: `EventProxy`). */
export class EventProxy extends BaseProxy {
  static readonly proxyKind = "event";
  isSet(): Promise<boolean> {
    return this._callMethod("isSet") as Promise<boolean>;
  }
  isSetSync(): boolean {
    return this._callMethodSync("isSet") as boolean;
  }
  async set(): Promise<void> {
    await this._callMethod("set");
  }
  setSync(): void {
    this._callMethodSync("set");
  }
  async clear(): Promise<void> {
    await this._callMethod("clear");
  }
  clearSync(): void {
    this._callMethodSync("clear");
  }
  wait(timeout?: number): Promise<boolean> {
    return this._callMethod("wait", timeout === undefined ? [] : [timeout]) as Promise<boolean>;
  }
  waitSync(timeout?: number): boolean {
    return this._callMethodSync("wait", timeout === undefined ? [] : [timeout]) as boolean;
  }
}

/** A proxy of a manager Queue or JoinableQueue (Python: the queue's AutoProxy). */
export class QueueProxy<T = unknown> extends BaseProxy {
  static readonly proxyKind = "queue";
  async put(obj: T, opts?: QueueWaitOptions): Promise<void> {
    await this._callMethod("put", opts === undefined ? [obj] : [obj, opts]);
  }
  putSync(obj: T, opts?: QueueWaitOptions): void {
    this._callMethodSync("put", opts === undefined ? [obj] : [obj, opts]);
  }
  get(opts?: QueueWaitOptions): Promise<T> {
    return this._callMethod("get", opts === undefined ? [] : [opts]) as Promise<T>;
  }
  getSync(opts?: QueueWaitOptions): T {
    return this._callMethodSync("get", opts === undefined ? [] : [opts]) as T;
  }
  async putNowait(obj: T): Promise<void> {
    await this._callMethod("putNowait", [obj]);
  }
  getNowait(): Promise<T> {
    return this._callMethod("getNowait") as Promise<T>;
  }
  qsize(): Promise<number> {
    return this._callMethod("qsize") as Promise<number>;
  }
  qsizeSync(): number {
    return this._callMethodSync("qsize") as number;
  }
  empty(): Promise<boolean> {
    return this._callMethod("empty") as Promise<boolean>;
  }
  emptySync(): boolean {
    return this._callMethodSync("empty") as boolean;
  }
  full(): Promise<boolean> {
    return this._callMethod("full") as Promise<boolean>;
  }
  /** JoinableQueue only. */
  async taskDone(): Promise<void> {
    await this._callMethod("taskDone");
  }
  taskDoneSync(): void {
    this._callMethodSync("taskDone");
  }
  /** JoinableQueue only: waits until every item put was marked done. */
  async join(): Promise<void> {
    await this._callMethod("join");
  }
  joinSync(): void {
    this._callMethodSync("join");
  }
}

/** A proxy of a manager Barrier (Python: `BarrierProxy`). */
export class BarrierProxy extends BaseProxy {
  static readonly proxyKind = "barrier";
  wait(timeout?: number): Promise<number> {
    return this._callMethod("wait", timeout === undefined ? [] : [timeout]) as Promise<number>;
  }
  waitSync(timeout?: number): number {
    return this._callMethodSync("wait", timeout === undefined ? [] : [timeout]) as number;
  }
  async reset(): Promise<void> {
    await this._callMethod("reset");
  }
  async abort(): Promise<void> {
    await this._callMethod("abort");
  }
  parties(): Promise<number> {
    return this._callMethod("parties") as Promise<number>;
  }
  nWaiting(): Promise<number> {
    return this._callMethod("nWaiting") as Promise<number>;
  }
  broken(): Promise<boolean> {
    return this._callMethod("broken") as Promise<boolean>;
  }
}
