/**
 * ConditionProxy (Python: `managers.ConditionProxy`): a Condition on the
 * server, over its RLock or a manager Lock/RLock passed to `m.Condition()`.
 * `wait` waits on the server (which never blocks for it); `waitFor` runs
 * its predicate here, in the caller, as Python's proxy does.
 */
import { type Held, held } from "../sync/held.ts";
import { checkTimeout } from "../timeout.ts";
import { callerId } from "./caller.ts";
import { BaseProxy } from "./proxy.ts";
import type { ServerAcquireOptions } from "./server-rlock.ts";

/** A proxy of a manager Condition. */
export class ConditionProxy extends BaseProxy {
  static readonly proxyKind = "condition";
  /** Takes the condition's lock. @returns false when not taken in time */
  acquire(opts?: ServerAcquireOptions): Promise<boolean> {
    return this._callMethod("acquire", [callerId(), opts ?? {}]) as Promise<boolean>;
  }
  acquireSync(opts?: ServerAcquireOptions): boolean {
    return this._callMethodSync("acquire", [callerId(), opts ?? {}]) as boolean;
  }
  /** Releases the condition's lock. @throws RuntimeError when this thread does not hold it */
  async release(): Promise<void> {
    await this._callMethod("release", [callerId()]);
  }
  releaseSync(): void {
    this._callMethodSync("release", [callerId()]);
  }
  /** Acquires and returns a guard whose dispose releases. @throws TimeoutError */
  async hold(opts?: ServerAcquireOptions): Promise<Held> {
    return held({ release: () => this.releaseSync() }, await this.acquire(opts), opts?.timeout);
  }
  holdSync(opts?: ServerAcquireOptions): Held {
    return held({ release: () => this.releaseSync() }, this.acquireSync(opts), opts?.timeout);
  }
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
  async waitFor<T>(predicate: () => T | Promise<T>, timeout?: number): Promise<T> {
    const ms = checkTimeout(timeout, "Condition.waitFor");
    const deadline = ms === undefined ? undefined : performance.now() + ms;
    let result = await predicate();
    while (!result) {
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) break;
      await this.wait(left);
      result = await predicate();
    }
    return result;
  }
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    const ms = checkTimeout(timeout, "Condition.waitFor");
    const deadline = ms === undefined ? undefined : performance.now() + ms;
    let result = predicate();
    while (!result) {
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) break;
      this.waitSync(left);
      result = predicate();
    }
    return result;
  }
}
