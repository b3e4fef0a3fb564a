/** Semaphore: a counting semaphore shared by processes and threads (Python: `multiprocessing.Semaphore`). */
import { registerReducer } from "../codec/reducers.ts";
import { type Held, held } from "./held.ts";
import { type AcquireOptions, SemLock, type SemLockState } from "./sem-lock.ts";

/** The largest value a semaphore can count to (Python: `SEM_VALUE_MAX`). */
export const SEM_VALUE_MAX = 2 ** 31 - 1;

/** @throws RangeError unless `value` is an integer from 0 to SEM_VALUE_MAX */
function checkValue(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > SEM_VALUE_MAX) {
    throw new RangeError(`${what} initial value must be an integer from 0 to ${SEM_VALUE_MAX}, got ${String(value)}`);
  }
  return value;
}

/**
 * A counter of permits: `acquire` takes one (waiting while there is none),
 * `release` gives one back, from any process or thread. Uncontended, both are
 * one compare-and-swap. The first permit holders (up to 16) are recorded, so
 * a permit whose holder died is taken over by a waiter instead of being lost
 * (see `AcquireOptions.onAbandoned`).
 *
 * @example
 * const slots = mp.Semaphore(2);
 * await slots.acquire();
 * try { await download(); } finally { slots.release(); }
 */
export class Semaphore extends SemLock {
  /**
   * @param value the initial number of permits (default 1)
   * @throws RangeError when `value` is not an integer from 0 to 2**31 - 1
   */
  constructor(value: number | SemLockState = 1) {
    const ctor = new.target as typeof Semaphore;
    super(typeof value === "object" ? value : { value: checkValue(value, ctor.name), max: ctor.maxFor(value) });
  }

  /** The bound on the value for a new semaphore starting at `value`. */
  protected static maxFor(_value: number): number {
    return SEM_VALUE_MAX;
  }

  /**
   * Takes a permit without blocking the event loop (Python: `acquire`).
   * @returns true when taken; false when `block: false` or the timeout passed.
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.take(opts);
  }

  /** Blocks the calling thread until a permit is taken (Python: `acquire(block, timeout)`). */
  acquireSync(opts?: AcquireOptions): boolean {
    return this.takeSync(opts);
  }

  /** Gives a permit back. @throws RangeError past the bound (BoundedSemaphore). */
  release(): void {
    this.give();
  }

  /** Number of free permits now (Python: `get_value`). */
  getValue(): number {
    return this.value;
  }

  /** Takes a permit and returns a guard for `using` (Python: `with sem:`). @throws TimeoutError */
  holdSync(opts?: AcquireOptions): Held {
    return held(this, this.takeSync(opts), opts?.timeout);
  }

  /** Async form of `holdSync`: `using _ = await sem.hold()`. @throws TimeoutError */
  async hold(opts?: AcquireOptions): Promise<Held> {
    return held(this, await this.take(opts), opts?.timeout);
  }

  override toString(): string {
    return `<Semaphore(value=${this.value})>`;
  }

  static {
    registerReducer(Semaphore, {
      tag: "Semaphore",
      reduce: (sem) => sem.reduceState(),
      rebuild: (state) => new Semaphore(state as SemLockState),
    });
  }
}
