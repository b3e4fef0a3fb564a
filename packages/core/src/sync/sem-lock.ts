/**
 * SemLock: the shared-word semaphore every lock is built on (CPython's
 * `_multiprocessing.SemLock`). Its words live in the shared arena, so one
 * SemLock works across every process and thread it is sent to.
 *
 * Words (Int32, see `Slot`): VALUE is the count of free permits, WAITERS the
 * number of threads asleep in futexWait on VALUE, OWNER the thread id of the
 * last acquirer, COUNT the recursion depth (RLock only).
 *
 * Acquire takes a permit with one compare-and-swap on VALUE: no system call
 * unless it must sleep. Release adds a permit and wakes a sleeper only when
 * WAITERS says there is one.
 */
import { futexWait, futexWake, threadId } from "../native/index.ts";
import { allocate, attach, type Block, type BlockHandle } from "../shared/index.ts";

/** Named word offsets inside a SemLock block. */
export const Slot = { VALUE: 0, WAITERS: 1, OWNER: 2, COUNT: 3 } as const;
const WORDS = 4;

/** Options of `acquire`/`acquireSync` (Python: `block`, `timeout`, in milliseconds). */
export interface AcquireOptions {
  /** false: take the lock only if it is free right now. Default true. */
  block?: boolean;
  /** Longest wait in ms; undefined waits forever. */
  timeout?: number;
}

/** How a SemLock travels to another process. */
export interface SemLockState {
  block: BlockHandle;
  max: number;
}

/** Longest pause between two tries of an async acquire (ms). */
const MAX_ASYNC_BACKOFF = 8;

/** @throws RangeError when `timeout` is not a number of milliseconds >= 0 */
export function checkTimeout(timeout: number | undefined, what: string): void {
  if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
    throw new RangeError(`${what} timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
}

/** A counting semaphore over shared words, with an upper bound `max` on its value. */
export class SemLock {
  readonly #block: Block;
  readonly #words: Int32Array;
  readonly #valueAddress: number;
  readonly #max: number;

  protected constructor(init: { value: number; max: number } | SemLockState) {
    if ("block" in init) {
      this.#block = attach(init.block);
      this.#max = init.max;
    } else {
      this.#block = allocate(WORDS * 4);
      this.#max = init.max;
      this.#block.int32(WORDS)[Slot.VALUE] = init.value;
    }
    this.#words = this.#block.int32(WORDS);
    this.#valueAddress = this.#block.address(Slot.VALUE * 4);
  }

  /** The state another process needs to rebuild this object over the same words. */
  protected reduceState(): SemLockState {
    return { block: this.#block.handle(), max: this.#max };
  }

  /** The shared words (for subclasses that keep extra state in OWNER/COUNT). */
  protected get words(): Int32Array {
    return this.#words;
  }

  /** Takes one permit if one is free, without waiting. */
  protected tryTake(): boolean {
    const w = this.#words;
    for (;;) {
      const v = Atomics.load(w, Slot.VALUE);
      if (v <= 0) return false;
      if (Atomics.compareExchange(w, Slot.VALUE, v, v - 1) === v) {
        Atomics.store(w, Slot.OWNER, threadId());
        return true;
      }
    }
  }

  /** Blocks the calling thread until a permit is taken or `timeout` ms pass. */
  protected takeSync(opts: AcquireOptions | undefined): boolean {
    checkTimeout(opts?.timeout, "acquire");
    if (this.tryTake()) return true;
    if (opts?.block === false) return false;
    const deadline = opts?.timeout === undefined ? undefined : performance.now() + opts.timeout;
    const w = this.#words;
    for (;;) {
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) return this.tryTake();
      // Announce the sleeper before sleeping: a releaser that adds a permit
      // after this point sees WAITERS > 0 and wakes us; one that added it
      // before makes futexWait return at once, since VALUE is no longer 0.
      Atomics.add(w, Slot.WAITERS, 1);
      futexWait(this.#valueAddress, 0, left);
      Atomics.sub(w, Slot.WAITERS, 1);
      if (this.tryTake()) return true;
    }
  }

  /** Waits without blocking the event loop until a permit is taken or `timeout` ms pass. */
  protected async take(opts: AcquireOptions | undefined): Promise<boolean> {
    checkTimeout(opts?.timeout, "acquire");
    if (this.tryTake()) return true;
    if (opts?.block === false) return false;
    const deadline = opts?.timeout === undefined ? undefined : performance.now() + opts.timeout;
    // TODO(#6): wake async waiters through futex_waitv on a helper thread instead of polling.
    let pause = 0;
    for (;;) {
      const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - performance.now();
      if (left <= 0) return this.tryTake();
      await Bun.sleep(Math.min(pause, left));
      if (this.tryTake()) return true;
      pause = Math.min(MAX_ASYNC_BACKOFF, pause === 0 ? 0.5 : pause * 2);
    }
  }

  /** Returns one permit; throws RangeError past `max` ("released too many times"). */
  protected give(): void {
    const w = this.#words;
    for (;;) {
      const v = Atomics.load(w, Slot.VALUE);
      if (v >= this.#max) throw new RangeError(this.overReleaseMessage());
      if (Atomics.compareExchange(w, Slot.VALUE, v, v + 1) === v) break;
    }
    if (Atomics.load(w, Slot.WAITERS) > 0) futexWake(this.#valueAddress, 1);
  }

  /** Message of the error thrown by a release past `max`. */
  protected overReleaseMessage(): string {
    return "Semaphore released too many times";
  }

  /** Number of free permits right now (Python: `SemLock._get_value`). */
  protected get value(): number {
    return Atomics.load(this.#words, Slot.VALUE);
  }
}
