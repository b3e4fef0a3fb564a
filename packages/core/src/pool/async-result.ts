/**
 * AsyncResult: the handle `applyAsync`, `mapAsync` and `starmapAsync` return (Python:
 * `multiprocessing.pool.AsyncResult`). It is also awaitable, so
 * `await pool.applyAsync(f, [x])` works.
 */
import { ProcessError, TimeoutError } from "../errors.ts";
import { checkTimeout } from "../timeout.ts";

/** Drives the pool from a blocked thread until `done()` or `deadline`; true when done. */
export type SyncPump = (done: () => boolean, deadline: number) => boolean;

/** Callbacks run in the parent when the result settles (Python: `callback`, `error_callback`). */
export interface ResultCallbacks<R> {
  callback?: (value: R) => void;
  errorCallback?: (error: unknown) => void;
}

type State<R> = { kind: "pending" } | { kind: "ok"; value: R } | { kind: "error"; error: unknown };

/** Settles an AsyncResult; only the pool holds it. */
export let settleResult: <R>(result: AsyncResult<R>, ok: boolean, value: unknown) => void;

/**
 * A result that will be ready later. A failed result (an error in the task,
 * a timeout, an abort, a dead worker) is `ready()` and not `successful()`.
 *
 * @example
 * const r = pool.applyAsync(square, [7]);
 * console.log(await r.get(1000)); // 49
 */
export class AsyncResult<R> implements PromiseLike<R> {
  #state: State<R> = { kind: "pending" };
  #waiters: (() => void)[] = [];
  readonly #pump: SyncPump;
  readonly #callbacks: ResultCallbacks<R> | undefined;

  /** @internal Made by the Pool. */
  constructor(pump: SyncPump, callbacks?: ResultCallbacks<R>) {
    this.#pump = pump;
    this.#callbacks = callbacks;
  }

  /** Whether the task has finished, successfully or not (Python: `ready`). */
  ready(): boolean {
    return this.#state.kind !== "pending";
  }

  /**
   * Whether the task finished without an error (Python: `successful`).
   * @throws ProcessError when the result is not ready yet
   */
  successful(): boolean {
    if (this.#state.kind === "pending")
      throw new ProcessError("The result is not ready yet: successful() needs a ready result");
    return this.#state.kind === "ok";
  }

  /** Waits until the result is ready or `timeout` ms passed, without throwing (Python: `wait`). */
  async wait(timeout?: number): Promise<void> {
    const ms = checkTimeout(timeout, "AsyncResult.wait");
    if (this.#state.kind !== "pending") return;
    let timer: Timer | undefined;
    await new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      if (ms === undefined) return;
      timer = setTimeout(() => {
        const at = this.#waiters.indexOf(resolve);
        if (at >= 0) this.#waiters.splice(at, 1);
        resolve();
      }, ms);
    });
    clearTimeout(timer);
  }

  /**
   * The result, once ready (Python: `get`).
   * @throws the task's error, or TimeoutError when not ready within `timeout` ms
   */
  async get(timeout?: number): Promise<R> {
    const ms = checkTimeout(timeout, "AsyncResult.get");
    await this.wait(ms);
    return this.#outcome(ms);
  }

  /** Like `get`, blocking the calling thread (Python's `get`). */
  getSync(timeout?: number): R {
    const ms = checkTimeout(timeout, "AsyncResult.get");
    if (this.#state.kind === "pending") {
      this.#pump(
        () => this.#state.kind !== "pending",
        ms === undefined ? Number.POSITIVE_INFINITY : performance.now() + ms,
      );
    }
    return this.#outcome(ms);
  }

  #outcome(timeout: number | undefined): R {
    const state = this.#state;
    if (state.kind === "ok") return state.value;
    if (state.kind === "error") throw state.error;
    throw new TimeoutError(`The result was not ready within ${timeout} ms`);
  }

  // biome-ignore lint/suspicious/noThenProperty: an AsyncResult is awaitable by design.
  then<A = R, B = never>(
    onfulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.get().then(onfulfilled, onrejected);
  }

  toString(): string {
    return `<AsyncResult ${this.#state.kind}>`;
  }

  static {
    settleResult = <T>(result: AsyncResult<T>, ok: boolean, value: unknown) => {
      if (result.#state.kind !== "pending") return;
      result.#state = ok ? { kind: "ok", value: value as T } : { kind: "error", error: value };
      for (const wake of result.#waiters.splice(0)) wake();
      const callbacks = result.#callbacks;
      if (callbacks === undefined) return;
      // A throwing callback must not break the pool's bookkeeping (Python logs and goes on).
      try {
        if (ok) callbacks.callback?.(value as T);
        else callbacks.errorCallback?.(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    };
  }
}
