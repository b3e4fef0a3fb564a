/** The guard a `hold()` returns, so `using` releases what `with lock:` would in Python. */
import { TimeoutError } from "../errors.ts";

/** A held lock; disposing it (or `release()`) releases the lock once. */
export interface Held extends Disposable {
  release(): void;
}

/** Wraps an acquired lock in a guard, or throws `TimeoutError` when it was not acquired. */
export function held(lock: { release(): void }, acquired: boolean, timeout?: number): Held {
  if (!acquired) throw new TimeoutError(`Lock not acquired within ${Math.max(0, timeout ?? 0)} ms`);
  let holding = true;
  const release = () => {
    if (holding) {
      holding = false;
      lock.release();
    }
  };
  return { release, [Symbol.dispose]: release };
}
