/**
 * The Pool a manager server holds (Python: `SyncManager.Pool`'s referent): a
 * Pool of the server process's own backend. Its async results and imap
 * iterators stay on the server and reach the caller as proxies
 * (`methodToTypeid`); callbacks never travel: the caller's proxy runs them.
 */
import { getContext } from "../context.ts";
import { TimeoutError } from "../errors.ts";
import type { AsyncResult, Pool, PoolOptions } from "../pool/index.ts";
import { getStartMethod } from "../start-method.ts";
import { checkTimeout } from "../timeout.ts";
import { FREED } from "./server.ts";

type Fn = (...a: unknown[]) => unknown;

/** The options of a task that can travel to the server (callbacks run at the caller; a signal cannot travel). */
export interface ServerTaskOptions {
  timeout?: number;
}

/** An AsyncResult held by the server: not awaitable itself, so the server returns it instead of its value. */
export class ServerAsyncResult {
  readonly #r: AsyncResult<unknown>;
  readonly #ended: (r: object) => void;
  /** @param ended told once the result is set or freed: till then it keeps its pool running */
  constructor(r: AsyncResult<unknown>, ended: (r: object) => void = () => {}) {
    this.#r = r;
    this.#ended = ended;
    r.wait().then(
      () => ended(this),
      () => ended(this),
    );
  }
  /** Freed by the server (no proxy left): it no longer keeps its pool. */
  [FREED](): void {
    this.#ended(this);
  }
  get(timeout?: number): Promise<unknown> {
    return this.#r.get(timeout);
  }
  wait(timeout?: number): Promise<void> {
    return this.#r.wait(timeout);
  }
  ready(): boolean {
    return this.#r.ready();
  }
  successful(): boolean {
    return this.#r.successful();
  }
}

/** An imap iterator held by the server (Python: `IMapIterator`): `next(timeout)` keeps a result that came late. */
export class ServerIterator {
  readonly #it: AsyncIterator<unknown>;
  readonly #ended: (r: object) => void;
  #pending: Promise<IteratorResult<unknown>> | undefined;
  /** @param ended told once the iterator is done, failed or freed: till then it keeps its pool running */
  constructor(it: AsyncIterable<unknown>, ended: (r: object) => void = () => {}) {
    this.#it = it[Symbol.asyncIterator]();
    this.#ended = ended;
  }
  /** Freed by the server (no proxy left): it no longer keeps its pool. */
  [FREED](): void {
    this.#ended(this);
  }
  /**
   * The next result as `[done, value]`.
   * @throws TimeoutError when none came within `timeout` ms (the next call gets it)
   */
  async next(timeout?: number): Promise<[boolean, unknown]> {
    const ms = checkTimeout(timeout, "IMapIterator.next");
    this.#pending ??= this.#it.next();
    const pending = this.#pending;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = Symbol("late");
    const raced =
      ms === undefined
        ? pending
        : Promise.race([pending, new Promise<typeof late>((r) => (timer = setTimeout(() => r(late), ms)))]);
    try {
      const r = await raced;
      if (r === late) throw new TimeoutError(`No imap result came within ${ms} ms`);
      this.#pending = undefined;
      if (r.done === true) this.#ended(this);
      return [r.done === true, r.value];
    } catch (error) {
      if (!(error instanceof TimeoutError)) {
        this.#pending = undefined;
        this.#ended(this);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A Pool on the server, with Python's `PoolProxy` methods. */
export class ServerPool {
  readonly #pool: Pool;
  /**
   * Results and iterators not yet finished whose proxy is live: each keeps
   * the pool running after the pool's own proxies are gone (Python:
   * `ApplyResult._pool`, dropped once the result is set).
   */
  readonly #live = new Set<object>();
  #freed = false;
  readonly #ended = (r: object): void => {
    if (this.#live.delete(r) && this.#freed && this.#live.size === 0) this.#pool.terminate();
  };
  #track<T extends object>(r: T): T {
    this.#live.add(r);
    return r;
  }
  constructor(processes?: number | PoolOptions | null) {
    this.#pool = getContext(getStartMethod()).Pool(processes ?? undefined);
  }
  map(fn: Fn, items: unknown[], chunksize?: number): Promise<unknown[]> {
    return this.#pool.map(fn, items, chunksize);
  }
  starmap(fn: Fn, items: unknown[][], chunksize?: number): Promise<unknown[]> {
    return this.#pool.starmap(fn, items, chunksize);
  }
  apply(fn: Fn, args: unknown[] = []): Promise<unknown> {
    return this.#pool.apply(fn, args);
  }
  applyAsync(fn: Fn, args: unknown[] = [], opts: ServerTaskOptions = {}): ServerAsyncResult {
    return this.#track(new ServerAsyncResult(this.#pool.applyAsync(fn, args, opts), this.#ended));
  }
  mapAsync(fn: Fn, items: unknown[], chunksize?: number, opts: ServerTaskOptions = {}): ServerAsyncResult {
    return this.#track(
      new ServerAsyncResult(this.#pool.mapAsync(fn, items, chunksize, opts) as AsyncResult<unknown>, this.#ended),
    );
  }
  starmapAsync(fn: Fn, items: unknown[][], chunksize?: number, opts: ServerTaskOptions = {}): ServerAsyncResult {
    return this.#track(
      new ServerAsyncResult(this.#pool.starmapAsync(fn, items, chunksize, opts) as AsyncResult<unknown>, this.#ended),
    );
  }
  imap(fn: Fn, items: unknown[], chunksize?: number): ServerIterator {
    return this.#track(new ServerIterator(this.#pool.imap(fn, items, chunksize), this.#ended));
  }
  imapUnordered(fn: Fn, items: unknown[], chunksize?: number): ServerIterator {
    return this.#track(new ServerIterator(this.#pool.imapUnordered(fn, items, chunksize), this.#ended));
  }
  close(): void {
    this.#pool.close();
  }
  terminate(): void {
    this.#pool.terminate();
  }
  join(): Promise<void> {
    return this.#pool.join();
  }
  /**
   * Freed by the server (no proxy left, or shut down): its workers end, as a
   * collected Pool's do in Python, once no unfinished result or iterator of
   * it is held (at shutdown those are freed too, right after).
   */
  [FREED](): void {
    this.#freed = true;
    if (this.#live.size === 0) this.#pool.terminate();
  }
}
