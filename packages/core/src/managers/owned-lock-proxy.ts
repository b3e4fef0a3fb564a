/**
 * The acquire/release half shared by the RLock and Condition proxies: a lock
 * on the server owned by the calling thread of the calling process
 * (`caller.ts`), so every call names its caller.
 */
import { type Held, held } from "../sync/held.ts";
import { callerId } from "./caller.ts";
import { BaseProxy } from "./proxy.ts";
import type { ServerAcquireOptions } from "./server-rlock.ts";

/** A proxy of a server lock owned per thread (an RLock, or a Condition's lock). */
export abstract class OwnedLockProxy extends BaseProxy {
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
