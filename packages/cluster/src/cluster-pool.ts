/**
 * Pool({ cluster, name }): the local Pool's API with tasks run by `multiproc
 * worker` hosts through NATS JetStream (#22). Each task (an apply, or a chunk
 * of a map) is one message on the pool's work-queue stream; its result comes
 * back on this caller's result subject and settles the task the first time
 * its id is seen, so a task run twice (a host that died after running it)
 * still gives one result. The applyAsync calls of one event-loop turn go
 * as one message per function (apply-batch.ts), sent when the turn ends
 * (turn-batcher.ts).
 *
 * Over 400 lines: one class, the local Pool's public API (apply, map,
 * starmap, imap in their async forms, the refused blocking forms, close,
 * terminate, join), all of it over one table of tasks in flight; what
 * stands alone is in broker-link.ts, cluster-imap.ts, apply-batch.ts and
 * turn-batcher.ts.
 */
import {
  type ApplyOptions,
  AsyncResult,
  type ClusterOptions,
  type ClusterPool,
  type ClusterPoolOptions,
  checkApplyOptions,
  checkArgLists,
  checkChunksize,
  defaultChunksize,
  dumps,
  findExport,
  isAsyncIterable,
  iteratorOf,
  loads,
  materialise,
  settleResult,
} from "@multiproc/core/internal";
import { ConfigError, PicklingError, ProcessError } from "@multiproc/core";
import { type BatchEntry, parseOutcomes } from "./apply-batch.ts";
import { toAppPath } from "./app-path.ts";
import { BrokerLink } from "./broker-link.ts";
import { clusterImap } from "./cluster-imap.ts";
import { parseClusterOptions } from "./cluster-options.ts";
import { type PoolNames, poolNames } from "./pool-name.ts";
import type { TaskHeaders, TaskKind } from "./task-message.ts";
import { TurnBatcher } from "./turn-batcher.ts";

/** Chunks a map is cut into by default (the caller does not know how many workers there are). */
const DEFAULT_CHUNKS = 64;
/** Largest default chunk, so one message stays small. */
const MAX_DEFAULT_CHUNK = 1024;

type Settle = (ok: boolean, value: unknown) => void;

function syncRefused(sync: string, async: string): never {
  throw new ConfigError(
    `A cluster Pool has no blocking ${sync}: its results arrive on the event loop it would block; use ${async}`,
  );
}

/** The pump of a cluster AsyncResult's getSync, which cannot wait. */
const noPump = (): boolean => syncRefused("getSync()", "await result.get()");

export class ClusterPoolImpl implements ClusterPool {
  readonly #names: PoolNames;
  readonly #callerId = crypto.randomUUID().replaceAll("-", "");
  readonly #link: Promise<BrokerLink>;
  readonly #pending = new Map<string, Settle>();
  #broken: unknown;
  #seq = 0;
  #state: "run" | "close" | "terminate" = "run";
  #idle: (() => void)[] = [];
  #closed: Promise<void> | undefined;
  /** applyAsync calls of this turn not yet sent. */
  readonly #turn = new TurnBatcher((fn, calls) => this.#sendCalls(fn, calls));
  /** Batches sent whose tasks are not all settled: batch id → its task ids. */
  readonly #batches = new Map<string, string[]>();

  /** @throws ConfigError for a bad option */
  constructor(opts: ClusterPoolOptions) {
    for (const key of Object.keys(opts)) {
      if (key !== "cluster" && key !== "name") {
        throw new ConfigError(`Unknown option "${key}" of a cluster Pool; the options are cluster, name`);
      }
    }
    const cluster: ClusterOptions = parseClusterOptions(opts.cluster);
    this.#names = poolNames(opts.name);
    const reply = `${this.#names.resultPrefix}.${this.#callerId}`;
    this.#link = BrokerLink.open(cluster, this.#names, reply, (id, ok, body) => this.#onResult(id, ok, body));
    this.#link.catch((error) => {
      this.#broken = error;
      this.#failAll(error);
    });
  }

  #onResult(id: string, ok: boolean, body: Uint8Array): void {
    const batch = this.#batches.get(id);
    if (batch !== undefined) {
      this.#onBatchResult(id, batch, body);
      return;
    }
    this.#settleTask(id, ok, body);
  }

  #settleTask(id: string, ok: boolean, body: Uint8Array): void {
    const settle = this.#pending.get(id);
    if (settle === undefined) return; // Already settled: a task that ran twice.
    this.#pending.delete(id);
    let value: unknown;
    try {
      value = loads(body);
    } catch (error) {
      settle(false, error);
      this.#checkIdle();
      return;
    }
    settle(ok, value);
    this.#checkIdle();
  }

  /** Settles each task of a batch's result message whose result has not come already. */
  #onBatchResult(batchId: string, ids: string[], body: Uint8Array): void {
    let outcomes: ReturnType<typeof parseOutcomes>;
    try {
      outcomes = parseOutcomes(body);
    } catch {
      return; // Not a result this pool's hosts send: nothing of it is trusted.
    }
    for (const [id, ok, bytes] of outcomes) this.#settleTask(id, ok, bytes);
    if (ids.every((id) => !this.#pending.has(id))) this.#batches.delete(batchId);
  }

  #checkIdle(): void {
    if (this.#pending.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #failAll(error: unknown): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#batches.clear();
    this.#turn.clear();
    for (const settle of all) settle(false, error);
    this.#checkIdle();
  }

  #checkRunning(): void {
    if (this.#broken !== undefined) throw this.#broken;
    if (this.#state !== "run") throw new ProcessError(`Pool is not running (it was ${this.#state}d)`);
  }

  /** `fn` as `<module relative to the app>#<export>`. @throws PicklingError unless it is exported */
  #refOf(fn: unknown, what: string): string {
    if (typeof fn !== "function") throw new TypeError(`${what} needs a function, got ${typeof fn}`);
    const ref = findExport(fn as (...args: never[]) => unknown);
    if (ref === undefined) {
      throw new PicklingError(
        `Cannot run function "${fn.name}" on a cluster: it is not exported from any module; export it from a module the worker hosts are started with`,
        "fn",
      );
    }
    return `${toAppPath(ref.module, `function "${fn.name}"`)}#${ref.name}`;
  }

  /** Queues an applyAsync call to be sent when this turn ends; `settle` runs once with its outcome. */
  #enqueue(fn: string, body: Uint8Array, settle: Settle): void {
    const id = `${this.#callerId}.${this.#seq++}`;
    this.#pending.set(id, settle);
    this.#turn.add(fn, id, body);
  }

  #sendCalls(fn: string, calls: BatchEntry[]): void {
    const reply = `${this.#names.resultPrefix}.${this.#callerId}`;
    const ids = calls.map(([id]) => id);
    if (calls.length === 1) {
      const [id, body] = calls[0]!;
      this.#publish(ids, { id, reply, fn, kind: "apply", timeout: undefined }, body);
      return;
    }
    const batchId = `${this.#callerId}.${this.#seq++}`;
    this.#batches.set(batchId, ids);
    this.#publish(ids, { id: batchId, reply, fn, kind: "batch", timeout: undefined }, dumps(calls));
  }

  /** Publishes a message carrying the tasks `ids`; a failure to store it fails those still pending. */
  #publish(ids: string[], task: TaskHeaders, body: Uint8Array): void {
    this.#link
      .then((link) => link.publish(task, body))
      .catch((error) => {
        for (const id of ids) {
          const settle = this.#pending.get(id);
          if (settle === undefined) continue;
          this.#pending.delete(id);
          settle(false, error);
        }
        this.#batches.delete(task.id);
        this.#checkIdle();
      });
  }

  /** Sends one task; `settle` runs once with its outcome. */
  #submit(fn: string, kind: TaskKind, body: Uint8Array, timeout: number | undefined, settle: Settle): string {
    const id = `${this.#callerId}.${this.#seq++}`;
    this.#pending.set(id, settle);
    const reply = `${this.#names.resultPrefix}.${this.#callerId}`;
    this.#link
      .then((link) => link.publish({ id, reply, fn, kind, timeout }, body))
      .catch((error) => {
        if (!this.#pending.delete(id)) return;
        settle(false, error);
        this.#checkIdle();
      });
    return id;
  }

  /** Settles `result` with the abort reason when `signal` fires first. */
  #watchSignal(ids: string[], signal: AbortSignal | undefined, settle: Settle): void {
    signal?.addEventListener(
      "abort",
      () => {
        let any = false;
        for (const id of ids) any = this.#pending.delete(id) || any;
        if (any) settle(false, signal.reason);
        this.#checkIdle();
      },
      { once: true },
    );
  }

  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>> {
    this.#checkRunning();
    checkApplyOptions(opts);
    const ref = this.#refOf(fn, "applyAsync");
    const list = args ?? [];
    if (!Array.isArray(list)) throw new TypeError(`applyAsync args must be an array, got ${typeof list}`);
    const body = dumps(list, { path: "args" });
    const result = new AsyncResult<Awaited<R>>(noPump, opts);
    const settle: Settle = (ok, value) => settleResult(result, ok, value);
    if (opts?.signal?.aborted) {
      settle(false, opts.signal.reason);
      return result;
    }
    if (opts?.signal === undefined && opts?.timeout === undefined) {
      this.#enqueue(ref, body, settle);
      return result;
    }
    // A call with its own signal or timeout goes alone: its abort or timeout concerns only itself.
    const id = this.#submit(ref, "apply", body, timeoutOf(opts), settle);
    this.#watchSignal([id], opts?.signal, settle);
    return result;
  }

  apply<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Promise<Awaited<R>> {
    return this.applyAsync(fn, args).get();
  }

  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(fn, iterable, chunksize, opts, "map", "mapAsync");
  }

  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(fn, iterable, chunksize, opts, "starmap", "starmapAsync");
  }

  #mapAsync<R>(
    fn: unknown,
    iterable: Iterable<unknown>,
    chunksize: number | undefined,
    opts: ApplyOptions<R[]> | undefined,
    kind: TaskKind,
    what: string,
  ): AsyncResult<R[]> {
    this.#checkRunning();
    checkApplyOptions(opts);
    const items = materialise(iterable, what);
    const ref = this.#refOf(fn, what);
    if (kind === "starmap") checkArgLists(items, what);
    if (chunksize !== undefined) checkChunksize(chunksize, what);
    const size = chunksize ?? Math.min(MAX_DEFAULT_CHUNK, defaultChunksize(items.length, DEFAULT_CHUNKS / 4));
    const result = new AsyncResult<R[]>(noPump, opts);
    const settle: Settle = (ok, value) => settleResult(result, ok, value);
    if (items.length === 0 || opts?.signal?.aborted) {
      settle(items.length === 0, items.length === 0 ? [] : opts?.signal?.reason);
      return result;
    }
    // Every chunk is encoded before any is sent: a PicklingError leaves nothing running.
    const bodies: Uint8Array[] = [];
    for (let start = 0; start < items.length; start += size) {
      bodies.push(dumps(items.slice(start, start + size), { path: `items[${start}..]` }));
    }
    const out = new Array<R>(items.length);
    let left = bodies.length;
    const ids: string[] = [];
    let failed = false;
    for (const [i, body] of bodies.entries()) {
      const start = i * size;
      const id = this.#submit(ref, kind, body, timeoutOf(opts), (ok, value) => {
        if (failed) return;
        if (!ok) {
          // The first error settles the map; the other chunks' results are dropped.
          failed = true;
          for (const other of ids) this.#pending.delete(other);
          settle(false, value);
          this.#checkIdle();
          return;
        }
        const values = value as R[];
        for (let j = 0; j < values.length; j++) out[start + j] = values[j]!;
        if (--left === 0) settle(true, out);
      });
      ids.push(id);
    }
    this.#watchSignal(ids, opts?.signal, settle);
    return result;
  }

  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.mapAsync(fn, items, chunksize).get();
  }

  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A> | AsyncIterable<A>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.starmapAsync(fn, items, chunksize).get();
  }

  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T> | AsyncIterable<T>, chunksize = 1): AsyncIterable<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, true, "imap");
  }

  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize = 1,
  ): AsyncIterable<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, false, "imapUnordered");
  }

  #imap<R>(
    fn: unknown,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    ordered: boolean,
    what: string,
  ): AsyncIterable<R> {
    // Mistakes throw here, at the call, not at the first iteration.
    this.#checkRunning();
    checkChunksize(chunksize, what);
    const ref = this.#refOf(fn, what);
    const source = iteratorOf(iterable, what);
    return {
      [Symbol.asyncIterator]: () =>
        clusterImap<R>(source, chunksize, ordered, (items, settle) => {
          let body: Uint8Array;
          try {
            body = dumps(items, { path: "item" });
          } catch (error) {
            settle(false, error);
            return;
          }
          this.#submit(ref, "map", body, undefined, settle);
        }),
    };
  }

  applySync(): never {
    return syncRefused("applySync()", "await pool.apply(fn, args)");
  }

  mapSync(): never {
    return syncRefused("mapSync()", "await pool.map(fn, items)");
  }

  starmapSync(): never {
    return syncRefused("starmapSync()", "await pool.starmap(fn, items)");
  }

  joinSync(): never {
    return syncRefused("joinSync()", "await pool.join()");
  }

  close(): void {
    // Calls made earlier in this turn are sent before join() waits for them.
    this.#turn.flush();
    if (this.#state === "run") this.#state = "close";
  }

  terminate(): void {
    if (this.#state === "terminate") return;
    this.#state = "terminate";
    this.#failAll(new ProcessError("The pool was terminated before this task finished"));
    this.#disconnect();
  }

  /**
   * Waits for the result of every task sent, then disconnects.
   * @throws ProcessError while the pool is still running
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new ProcessError("Cannot join a running pool: call close() or terminate() first");
    }
    if (this.#pending.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#disconnect();
  }

  #disconnect(): Promise<void> {
    this.#closed ??= this.#link.then(
      (link) => link.close(),
      () => {},
    );
    return this.#closed;
  }

  [Symbol.dispose](): void {
    this.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.#disconnect();
  }

  toString(): string {
    return `<Pool cluster name=${this.#names.name} state=${this.#state}>`;
  }
}

function timeoutOf(opts: ApplyOptions<never> | ApplyOptions<unknown> | undefined): number | undefined {
  const t = opts?.timeout;
  return t === undefined ? undefined : Math.max(0, Math.ceil(t));
}
