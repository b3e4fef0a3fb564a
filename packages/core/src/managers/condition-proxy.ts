/**
 * ConditionProxy (Python: `managers.ConditionProxy`): a Condition on the
 * server, over its RLock or a manager Lock/RLock passed to `m.Condition()`.
 * `wait` waits on the server (which never blocks for it); `waitFor` runs
 * its predicate here, in the caller, as Python's proxy does.
 */
import { checkTimeout } from "../timeout.ts";
import { callerId } from "./caller.ts";
import { OwnedLockProxy } from "./owned-lock-proxy.ts";
import { waitForAsync, waitForSync } from "../wait/wait-for.ts";

/** A proxy of a manager Condition. */
export class ConditionProxy extends OwnedLockProxy {
  static readonly proxyKind = "condition";
  /**
   * Releases the lock, waits for a notify or `timeout` ms, takes the lock back.
   * @returns true when notified, false when the timeout passed
   * @throws RuntimeError when this thread does not hold the lock
   */
  wait(timeout?: number): Promise<boolean> {
    const ms = checkTimeout(timeout, "Condition.wait");
    return this._callMethod("wait", ms === undefined ? [callerId()] : [callerId(), ms]) as Promise<boolean>;
  }
  waitSync(timeout?: number): boolean {
    const ms = checkTimeout(timeout, "Condition.wait");
    return this._callMethodSync("wait", ms === undefined ? [callerId()] : [callerId(), ms]) as boolean;
  }
  /** Wakes `n` waiters (default 1). @throws RuntimeError when this thread does not hold the lock */
  async notify(n = 1): Promise<void> {
    await this._callMethod("notify", [callerId(), n]);
  }
  notifySync(n = 1): void {
    this._callMethodSync("notify", [callerId(), n]);
  }
  /** Wakes every waiter (Python: `notify_all`). */
  async notifyAll(): Promise<void> {
    await this._callMethod("notifyAll", [callerId()]);
  }
  notifyAllSync(): void {
    this._callMethodSync("notifyAll", [callerId()]);
  }
  /**
   * Waits until `predicate()` (run here) is truthy, or `timeout` ms pass
   * (Python: `wait_for`); the lock must be held.
   * @returns the last value of the predicate (falsy only when the timeout passed)
   */
  waitFor<T>(predicate: () => T | Promise<T>, timeout?: number): Promise<T> {
    return waitForAsync((ms) => this.wait(ms), predicate, timeout);
  }
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    return waitForSync((ms) => this.waitSync(ms), predicate, timeout);
  }
}
