/** The `lock` option of Value and Array: `true` (a new RLock), `false`, or a given Lock or RLock. */
import { Lock } from "../sync/lock.ts";
import { RLock } from "../sync/rlock.ts";

/** Options of `Value` and `Array` (Python: `lock=True`). */
export interface SharedOptions {
  /** true (default): a new RLock; false: no lock (a raw object); or the Lock/RLock to use. */
  lock?: boolean | Lock | RLock;
}

/**
 * The lock a synchronized object uses, or undefined for `lock: false`.
 * @throws TypeError for anything else
 */
export function resolveLock(opts: SharedOptions | undefined): Lock | RLock | undefined {
  const lock = opts?.lock ?? true;
  if (lock === true) return new RLock();
  if (lock === false) return undefined;
  if (lock instanceof Lock || lock instanceof RLock) return lock;
  throw new TypeError(`The lock option must be true, false, a Lock or an RLock, got ${String(lock)}`);
}
