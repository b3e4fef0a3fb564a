/**
 * PoolProxy (Python: `managers.PoolProxy`): a Pool held by the manager's
 * server, each method one call, in both forms. `applyAsync`/`mapAsync`
 * resolve to an AsyncResultProxy (a result kept on the server); `imap`
 * reads an iterator kept on the server. Callbacks run here, in the caller's
 * process: they never travel. Task functions travel by reference, so they
 * must be exported, as for a local Pool on spawn and worker.
 */
import type { ResultCallbacks } from "../pool/async-result.ts";
import { BaseProxy } from "./proxy.ts";
import type { ServerTaskOptions } from "./server-pool.ts";

/** The options of a proxied task: a timeout (sent to the server) and callbacks (run here). */
export interface ProxiedTaskOptions<R> extends ResultCallbacks<R>, ServerTaskOptions {}

/** A proxy of an AsyncResult kept on the server (Python: the `AsyncResult` AutoProxy). */
export class AsyncResultProxy<R = unknown> extends BaseProxy {
  static readonly proxyKind = "asyncresult";
  /** The result. @throws the task's error, or TimeoutError when not ready within `timeout` ms */
  get(timeout?: number): Promise<R> {
    return this._callMethod("get", timeout === undefined ? [] : [timeout]) as Promise<R>;
  }
  getSync(timeout?: number): R {
    return this._callMethodSync("get", timeout === undefined ? [] : [timeout]) as R;
  }
  /** Waits until ready or `timeout` ms pass, without throwing. */
  async wait(timeout?: number): Promise<void> {
    await this._callMethod("wait", timeout === undefined ? [] : [timeout]);
  }
  waitSync(timeout?: number): void {
    this._callMethodSync("wait", timeout === undefined ? [] : [timeout]);
  }
  ready(): Promise<boolean> {
    return this._callMethod("ready") as Promise<boolean>;
  }
  readySync(): boolean {
    return this._callMethodSync("ready") as boolean;
  }
  /** @throws ProcessError when not ready yet */
  successful(): Promise<boolean> {
    return this._callMethod("successful") as Promise<boolean>;
  }
  successfulSync(): boolean {
    return this._callMethodSync("successful") as boolean;
  }
}

/** A proxy of an imap iterator kept on the server (Python: the `Iterator` proxy). */
export class IteratorProxy<R = unknown> extends BaseProxy {
  static readonly proxyKind = "iterator";
  /** The next result as `[done, value]`. @throws TimeoutError when none came within `timeout` ms */
  next(timeout?: number): Promise<[boolean, R]> {
    return this._callMethod("next", timeout === undefined ? [] : [timeout]) as Promise<[boolean, R]>;
  }
  nextSync(timeout?: number): [boolean, R] {
    return this._callMethodSync("next", timeout === undefined ? [] : [timeout]) as [boolean, R];
  }
}

type Fn<A extends unknown[], R> = (...args: A) => R;

/** Runs the caller's callbacks when the server's result settles; a throwing callback is reported, as a local Pool's. */
function whenSettled<R>(r: AsyncResultProxy<R>, opts: ResultCallbacks<R> | undefined): void {
  if (opts?.callback === undefined && opts?.errorCallback === undefined) return;
  r.get().then(
    (v) => report(() => opts.callback?.(v)),
    (e: unknown) => report(() => opts.errorCallback?.(e)),
  );
}

function report(run: () => void): void {
  try {
    run();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

function serverOpts(opts: ServerTaskOptions | undefined): ServerTaskOptions {
  return opts?.timeout === undefined ? {} : { timeout: opts.timeout };
}

/** A proxy of a manager Pool. */
export class PoolProxy extends BaseProxy {
  static readonly proxyKind = "pool";

  /** `fn` over each item, in the server's pool (Python: `map`). */
  map<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize?: number): Promise<Awaited<R>[]> {
    return this._callMethod("map", [fn, [...iterable], chunksize]) as Promise<Awaited<R>[]>;
  }
  mapSync<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize?: number): Awaited<R>[] {
    return this._callMethodSync("map", [fn, [...iterable], chunksize]) as Awaited<R>[];
  }
  /** `fn(...args)` for each args array (Python: `starmap`). */
  starmap<A extends unknown[], R>(fn: Fn<A, R>, iterable: Iterable<A>, chunksize?: number): Promise<Awaited<R>[]> {
    return this._callMethod("starmap", [fn, [...iterable], chunksize]) as Promise<Awaited<R>[]>;
  }
  starmapSync<A extends unknown[], R>(fn: Fn<A, R>, iterable: Iterable<A>, chunksize?: number): Awaited<R>[] {
    return this._callMethodSync("starmap", [fn, [...iterable], chunksize]) as Awaited<R>[];
  }
  /** `fn(...args)` in a worker (Python: `apply`). */
  apply<A extends unknown[], R>(fn: Fn<A, R>, args?: A): Promise<Awaited<R>> {
    return this._callMethod("apply", [fn, args ?? []]) as Promise<Awaited<R>>;
  }
  applySync<A extends unknown[], R>(fn: Fn<A, R>, args?: A): Awaited<R> {
    return this._callMethodSync("apply", [fn, args ?? []]) as Awaited<R>;
  }
  /** Starts `fn(...args)`; resolves to the result's proxy. Callbacks run here once it settles (Python: `apply_async`). */
  async applyAsync<A extends unknown[], R>(
    fn: Fn<A, R>,
    args?: A,
    opts?: ProxiedTaskOptions<Awaited<R>>,
  ): Promise<AsyncResultProxy<Awaited<R>>> {
    const r = (await this._callMethod("applyAsync", [fn, args ?? [], serverOpts(opts)])) as AsyncResultProxy<
      Awaited<R>
    >;
    whenSettled(r, opts);
    return r;
  }
  applyAsyncSync<A extends unknown[], R>(
    fn: Fn<A, R>,
    args?: A,
    opts?: ProxiedTaskOptions<Awaited<R>>,
  ): AsyncResultProxy<Awaited<R>> {
    const r = this._callMethodSync("applyAsync", [fn, args ?? [], serverOpts(opts)]) as AsyncResultProxy<Awaited<R>>;
    whenSettled(r, opts);
    return r;
  }
  /** Starts a map; resolves to the result's proxy (Python: `map_async`). */
  async mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number,
    opts?: ProxiedTaskOptions<Awaited<R>[]>,
  ): Promise<AsyncResultProxy<Awaited<R>[]>> {
    const args = [fn, [...iterable], chunksize, serverOpts(opts)];
    const r = (await this._callMethod("mapAsync", args)) as AsyncResultProxy<Awaited<R>[]>;
    whenSettled(r, opts);
    return r;
  }
  mapAsyncSync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number,
    opts?: ProxiedTaskOptions<Awaited<R>[]>,
  ): AsyncResultProxy<Awaited<R>[]> {
    const args = [fn, [...iterable], chunksize, serverOpts(opts)];
    const r = this._callMethodSync("mapAsync", args) as AsyncResultProxy<Awaited<R>[]>;
    whenSettled(r, opts);
    return r;
  }
  /** Starts a starmap; resolves to the result's proxy (Python: `starmap_async`). */
  async starmapAsync<A extends unknown[], R>(
    fn: Fn<A, R>,
    iterable: Iterable<A>,
    chunksize?: number,
    opts?: ProxiedTaskOptions<Awaited<R>[]>,
  ): Promise<AsyncResultProxy<Awaited<R>[]>> {
    const args = [fn, [...iterable], chunksize, serverOpts(opts)];
    const r = (await this._callMethod("starmapAsync", args)) as AsyncResultProxy<Awaited<R>[]>;
    whenSettled(r, opts);
    return r;
  }
  /** Results in input order as they come (Python: `imap`); the input is sent at the first step. */
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize = 1): AsyncIterable<Awaited<R>> {
    return this.#iterate("imap", fn, [...iterable], chunksize);
  }
  imapSync<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize = 1): Iterable<Awaited<R>> {
    return this.#iterateSync("imap", fn, [...iterable], chunksize);
  }
  /** Results in the order they finish (Python: `imap_unordered`). */
  imapUnordered<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize = 1): AsyncIterable<Awaited<R>> {
    return this.#iterate("imapUnordered", fn, [...iterable], chunksize);
  }
  imapUnorderedSync<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize = 1): Iterable<Awaited<R>> {
    return this.#iterateSync("imapUnordered", fn, [...iterable], chunksize);
  }

  async *#iterate<R>(method: string, fn: unknown, items: unknown[], chunksize: number): AsyncGenerator<R> {
    const it = (await this._callMethod(method, [fn, items, chunksize])) as IteratorProxy<R>;
    for (;;) {
      const [done, value] = await it.next();
      if (done) return;
      yield value;
    }
  }
  *#iterateSync<R>(method: string, fn: unknown, items: unknown[], chunksize: number): Generator<R> {
    const it = this._callMethodSync(method, [fn, items, chunksize]) as IteratorProxy<R>;
    for (;;) {
      const [done, value] = it.nextSync();
      if (done) return;
      yield value;
    }
  }
  /** Accepts no more work (Python: `close`). */
  async close(): Promise<void> {
    await this._callMethod("close");
  }
  closeSync(): void {
    this._callMethodSync("close");
  }
  /** Stops the workers now (Python: `terminate`). */
  async terminate(): Promise<void> {
    await this._callMethod("terminate");
  }
  terminateSync(): void {
    this._callMethodSync("terminate");
  }
  /** Waits for the workers to exit, after close() or terminate() (Python: `join`). */
  async join(): Promise<void> {
    await this._callMethod("join");
  }
  joinSync(): void {
    this._callMethodSync("join");
  }
}
