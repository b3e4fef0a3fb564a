/**
 * Pool: worker processes (or threads) that run tasks (Python:
 * `multiprocessing.pool.Pool`), made to survive what hangs CPython's. This
 * file holds the public class (submitting, close/terminate/join); the parts
 * are beside it, one concept a file:
 * - pool-options.ts: the options and the checks of what callers pass;
 * - job.ts, task-refs.ts: a task from submission to settling, and how a
 *   worker finds its function;
 * - scheduler.ts: pending and running jobs, dispatch, replies, settling;
 * - workers.ts, worker-deaths.ts: starting, retiring and ending workers, and
 *   what a worker's death does to its tasks;
 * - aborts.ts: a task's timeout and abort signal;
 * - driver.ts: the read loop and the `Sync` forms' pump;
 * - imap.ts: the iterator of `imap` and `imapUnordered`;
 * - pool-core.ts: the state they share.
 *
 * How it differs from CPython's design, and why:
 * - Each worker has its own task queue and the parent chooses the worker, so
 *   the parent always knows which tasks a worker holds. When a worker dies,
 *   the task it was running (the one it took last and did not answer) fails
 *   with a ProcessError, the tasks it had not taken go to other workers, and
 *   a new worker takes its place. CPython's Pool hangs there forever.
 * - A worker holds a few tasks at once, more when tasks are short (measured
 *   per pool), so a stream of tiny tasks never waits for the parent, and a
 *   long task holds up little else.
 * - A task with a `timeout` or an abort `signal` goes to an idle worker and
 *   alone, so the pool can stop it by ending that worker.
 * - No result-handler thread: the parent reads replies on its event loop
 *   while tasks are out, and the `Sync` forms read them in the calling thread.
 */
import { describeFunction } from "../codec/exports.ts";
import type { BackendName } from "../config.ts";
import { ProcessError } from "../errors.ts";
import type { Process } from "../process.ts";
import { AsyncResult, settleResult } from "./async-result.ts";
import { enqueue, ensureReading, pumpSync, wakeIdle } from "./driver.ts";
import { iterate } from "./imap.ts";
import { type Job, makeJob } from "./job.ts";
import { PoolCore } from "./pool-core.ts";
import {
  type ApplyOptions,
  checkApplyOptions,
  checkArgLists,
  isAsyncIterable,
  iteratorOf,
  materialise,
  type PoolOptions,
} from "./pool-options.ts";
import { failAll } from "./scheduler.ts";
import { Kind } from "../protocol/task.ts";
import { allNumbers, checkChunksize, chunkOf, defaultChunksize } from "./task.ts";
import { checkInitializer, refOf } from "./task-refs.ts";
import { checkWorkers } from "./worker-deaths.ts";
import { endWorkers, sendStops, startWorkers } from "./workers.ts";

export { type ApplyOptions, parsePoolOptions, type PoolOptions } from "./pool-options.ts";

/**
 * A pool of workers. Make one with `ctx.Pool(processes)` or
 * `ctx.Pool({ processes, initializer, initargs, maxTasksPerChild })`.
 *
 * @example
 * await using pool = mp.Pool(4);
 * console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 */
export class Pool {
  readonly #core: PoolCore;
  readonly #pump = (done: () => boolean, deadline: number) => pumpSync(this.#core, done, deadline);

  /**
   * @internal Made by `ctx.Pool`, which passes the Process class of its backend.
   * @throws ConfigError for a bad option, PicklingError for an initializer that cannot reach the workers
   */
  constructor(processClass: typeof Process, backend: BackendName, inherits: boolean, opts: PoolOptions) {
    const core = new PoolCore(processClass, backend, inherits, opts);
    this.#core = core;
    if (!inherits) checkInitializer(core);
    try {
      startWorkers(core, core.size);
    } catch (error) {
      this.terminate();
      throw error;
    }
  }

  #checkRunning(): void {
    const core = this.#core;
    if (core.broken !== undefined) throw core.broken;
    if (core.state !== "run") throw new ProcessError(`Pool is not running (it was ${core.state}d)`);
  }

  /**
   * Runs `fn(...args)` in a worker; the handle is awaitable (Python: `apply_async`).
   * `args` may be left out only when `fn` takes no required parameter.
   * `fn` is an exported function, sent by reference; on fork it may be any
   * function, and one that is not exported (a closure) makes the pool fork
   * fresh workers the first time it meets it (docs/pool.md).
   * @throws ProcessError when the pool is not running; PicklingError when `fn` or an argument cannot reach a worker
   */
  applyAsync<R>(fn: () => R, args?: [], opts?: ApplyOptions<Awaited<R>>): AsyncResult<Awaited<R>>;
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>>;
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>> {
    return this.#applyAsync(fn, args, opts);
  }

  /** `applyAsync` without its overloads, for `apply` and `applySync` too. */
  #applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>> {
    this.#checkRunning();
    checkApplyOptions(opts);
    const ref = refOf(this.#core, fn, "applyAsync");
    const result = new AsyncResult<Awaited<R>>(this.#pump, opts);
    if (opts?.signal?.aborted) {
      settleResult(result, false, opts.signal.reason);
      return result;
    }
    const list = args ?? [];
    if (!Array.isArray(list)) throw new TypeError(`applyAsync args must be an array, got ${typeof list}`);
    const job = makeJob(
      this.#core,
      ref,
      Kind.APPLY,
      list,
      0,
      opts as ApplyOptions<unknown>,
      describeFunction(fn),
      (ok, value) => settleResult(result, ok, value),
    );
    enqueue(this.#core, [job]);
    return result;
  }

  /** Runs `fn(...args)` in a worker and resolves to its result (Python: `apply`). */
  apply<R>(fn: () => R, args?: []): Promise<Awaited<R>>;
  apply<A extends unknown[], R>(fn: (...args: A) => R, args: A): Promise<Awaited<R>>;
  apply<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Promise<Awaited<R>> {
    return this.#applyAsync(fn, args).get();
  }

  /** Like `apply`, blocking the calling thread (Python: `apply`). */
  applySync<R>(fn: () => R, args?: []): Awaited<R>;
  applySync<A extends unknown[], R>(fn: (...args: A) => R, args: A): Awaited<R>;
  applySync<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Awaited<R> {
    return this.#applyAsync(fn, args).getSync();
  }

  /**
   * `fn` over every item, in chunks; the handle resolves to the results in
   * order, or fails with the first error (Python: `map_async`).
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(fn, iterable, chunksize, opts, Kind.MAP, "mapAsync");
  }

  #mapAsync<R>(
    fn: unknown,
    iterable: Iterable<unknown>,
    chunksize: number | undefined,
    opts: ApplyOptions<R[]> | undefined,
    kind: Kind,
    what: string,
  ): AsyncResult<R[]> {
    this.#checkRunning();
    checkApplyOptions(opts);
    // The input first, as Python's map_async does: when it throws, that error
    // is the call's and nothing was sent (nor, on fork, a worker replaced).
    const items = materialise(iterable, what);
    const ref = refOf(this.#core, fn, what);
    if (kind === Kind.STARMAP) checkArgLists(items, what);
    const size = chunksize ?? defaultChunksize(items.length, this.#core.size);
    if (chunksize !== undefined) checkChunksize(chunksize, what);
    const result = new AsyncResult<R[]>(this.#pump, opts);
    if (items.length === 0 || opts?.signal?.aborted) {
      settleResult(result, items.length === 0, items.length === 0 ? [] : opts!.signal!.reason);
      return result;
    }
    const out = new Array<R>(items.length);
    let left = Math.ceil(items.length / size);
    const label = describeFunction(fn);
    // Numbers cannot fail to encode: each chunk goes out as soon as it is
    // made, so the workers start while the rest is cut. Other items are all
    // encoded first, so that a PicklingError leaves nothing running.
    const eager = kind === Kind.MAP && allNumbers(items);
    const jobs: Job[] = [];
    for (let start = 0; start < items.length; start += size) {
      const job = makeJob(
        this.#core,
        ref,
        kind,
        chunkOf(items, start, size),
        start,
        opts as ApplyOptions<unknown>,
        label,
        (ok, value) => {
          if (!ok) {
            settleResult(result, false, value);
            return;
          }
          const values = value as R[];
          for (let i = 0; i < values.length; i++) out[start + i] = values[i]!;
          if (--left === 0) settleResult(result, true, out);
        },
      );
      if (eager) enqueue(this.#core, [job]);
      else jobs.push(job);
    }
    if (!eager) enqueue(this.#core, jobs);
    return result;
  }

  /** `fn` over every item, results in order (Python: `map`); an async iterable is read first. */
  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.mapAsync(fn, items, chunksize).get();
  }

  /** Like `map`, blocking the calling thread (Python: `map`). */
  mapSync<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize?: number): Awaited<R>[] {
    return this.mapAsync(fn, iterable, chunksize).getSync();
  }

  /** `fn(...args)` for every argument list, results in order (Python: `starmap`). */
  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A> | AsyncIterable<A>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.#mapAsync<Awaited<R>>(fn, items, chunksize, undefined, Kind.STARMAP, "starmap").get();
  }

  /**
   * `fn(...args)` for every argument list, in chunks; the handle resolves to
   * the results in order, or fails with the first error (Python: `starmap_async`).
   * @throws ProcessError when the pool is not running; TypeError for an item that is not an array;
   * PicklingError when `fn` or an argument cannot reach a worker
   */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync<Awaited<R>>(fn, iterable, chunksize, opts, Kind.STARMAP, "starmapAsync");
  }

  /** Like `starmap`, blocking the calling thread. */
  starmapSync<A extends unknown[], R>(fn: (...args: A) => R, iterable: Iterable<A>, chunksize?: number): Awaited<R>[] {
    return this.#mapAsync<Awaited<R>>(fn, iterable, chunksize, undefined, Kind.STARMAP, "starmapSync").getSync();
  }

  /**
   * `fn` over the items, yielded in input order as they arrive (Python:
   * `imap`). The input is read lazily, a bounded number of chunks ahead of
   * the consumer, so it may be endless or async. When reading the input
   * throws, the results of the chunks read before are yielded first, then
   * that error is thrown; the chunk it broke off is not run (Python's rule).
   */
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T> | AsyncIterable<T>, chunksize = 1): AsyncIterable<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, true, "imap");
  }

  /**
   * Like `imap`, yielding results as they finish, in any order (Python:
   * `imap_unordered`). When reading the input throws, every result of the
   * chunks read before is yielded first, then that error is thrown.
   */
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
    const ref = refOf(this.#core, fn, what);
    const source = iteratorOf(iterable, what);
    return {
      [Symbol.asyncIterator]: () => iterate<R>(this.#core, ref, source, chunksize, ordered, describeFunction(fn)),
    };
  }

  /** Accepts no more work; workers exit once every task is done (Python: `close`). */
  close(): void {
    if (this.#core.state !== "run") return;
    this.#core.state = "close";
    if (!this.#core.hasWork()) sendStops(this.#core);
  }

  /**
   * Ends every worker now (Python: `terminate`); tasks not finished fail with
   * ProcessError. Leaves no child, descriptor or shared memory behind.
   */
  terminate(): void {
    if (this.#core.state === "terminate") return;
    this.#core.state = "terminate";
    failAll(this.#core, new ProcessError("The pool was terminated before this task finished"));
    endWorkers(this.#core);
    this.#core.results.close();
    wakeIdle(this.#core);
  }

  /**
   * Waits for the workers to exit (Python: `join`); call `close()` or
   * `terminate()` first.
   * @throws ProcessError while the pool is still running
   */
  async join(): Promise<void> {
    this.#checkJoinable();
    if (this.#core.hasWork()) {
      await new Promise<void>((resolve) => {
        this.#core.idleWaiters.push(resolve);
        ensureReading(this.#core);
      });
    }
    if (this.#core.state === "terminate") return;
    sendStops(this.#core);
    for (const w of [...this.#core.workers]) await w.proc.join();
    this.#reapAll();
  }

  /** Like `join`, blocking the calling thread. */
  joinSync(): void {
    this.#checkJoinable();
    pumpSync(this.#core, () => !this.#core.hasWork(), Number.POSITIVE_INFINITY);
    if (this.#core.state === "terminate") return;
    sendStops(this.#core);
    for (const w of [...this.#core.workers]) w.proc.joinSync();
    this.#reapAll();
  }

  #checkJoinable(): void {
    if (this.#core.state === "run") {
      throw new ProcessError("Cannot join a running pool: call close() or terminate() first");
    }
  }

  /** After a join: every worker has ended; release what they used. */
  #reapAll(): void {
    checkWorkers(this.#core);
    this.#core.results.close();
  }

  /** Ends the pool like Python's `with Pool() as p:` (terminate). */
  [Symbol.dispose](): void {
    this.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
  }

  /** Number of workers the pool keeps. */
  get processes(): number {
    return this.#core.size;
  }

  toString(): string {
    return `<Pool state=${this.#core.state} pool_size=${this.#core.size}>`;
  }
}
