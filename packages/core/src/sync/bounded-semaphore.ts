/** BoundedSemaphore: a semaphore that refuses to count past its start (Python: `multiprocessing.BoundedSemaphore`). */
import { registerReducer } from "../codec/reducers.ts";
import type { SemLockState } from "./sem-lock.ts";
import { Semaphore } from "./semaphore.ts";

/**
 * A Semaphore whose `release` throws when it would make the value exceed the
 * initial value: a release without a matching acquire is a bug made loud.
 *
 * @example
 * const sem = mp.BoundedSemaphore(1);
 * sem.release(); // throws RangeError: released too many times
 */
export class BoundedSemaphore extends Semaphore {
  protected static override maxFor(value: number): number {
    return value;
  }

  protected override overReleaseMessage(): string {
    return `BoundedSemaphore released too many times (its bound is ${this.max})`;
  }

  override toString(): string {
    return `<BoundedSemaphore(value=${this.value}, maxvalue=${this.max})>`;
  }

  static {
    registerReducer(BoundedSemaphore, {
      tag: "BoundedSemaphore",
      reduce: (sem) => sem.reduceState(),
      rebuild: (state) => new BoundedSemaphore(state as SemLockState),
    });
  }
}
