/**
 * RLockProxy (Python: the `AcquirerProxy` of `SyncManager.RLock`): a
 * re-entrant lock on the server, owned by the calling thread of the calling
 * process (`caller.ts`), so a child or another thread waits for it while
 * its owner may take it again.
 */
import { type Held, held } from "../sync/held.ts";
import { callerId } from "./caller.ts";
import { BaseProxy } from "./proxy.ts";
import type { ServerAcquireOptions } from "./server-rlock.ts";

/** A proxy of a manager RLock. */
export class RLockProxy extends BaseProxy {
  static readonly proxyKind = "rlock";
  /** Takes the lock (again, when this thread owns it). @returns false when not taken in time */
  acquire(opts?: ServerAcquireOptions): Promise<boolean> {
    return this._callMethod("acquire", [callerId(), opts ?? {}]) as Promise<boolean>;
  }
  acquireSync(opts?: ServerAcquireOptions): boolean {
    return this._callMethodSync("acquire", [callerId(), opts ?? {}]) as boolean;
  }
  /** Releases one level. @throws RuntimeError when this thread does not own the lock */
  async release(): Promise<void> {
    await this._callMethod("release", [callerId()]);
  }
  releaseSync(): void {
    this._callMethodSync("release", [callerId()]);
  }
  /** Acquires and returns a guard whose dispose releases (`using _ = await rlock.hold()`). @throws TimeoutError */
  async hold(opts?: ServerAcquireOptions): Promise<Held> {
    return held({ release: () => this.releaseSync() }, await this.acquire(opts), opts?.timeout);
  }
  holdSync(opts?: ServerAcquireOptions): Held {
    return held({ release: () => this.releaseSync() }, this.acquireSync(opts), opts?.timeout);
  }
}
