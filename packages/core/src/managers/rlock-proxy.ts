/**
 * RLockProxy (Python: the `AcquirerProxy` of `SyncManager.RLock`): a
 * re-entrant lock on the server, owned by the calling thread of the calling
 * process (`caller.ts`), so a child or another thread waits for it while
 * its owner may take it again.
 */
import { OwnedLockProxy } from "./owned-lock-proxy.ts";

/** A proxy of a manager RLock: `acquire` again by its owner nests, a non-owner's `release` throws RuntimeError. */
export class RLockProxy extends OwnedLockProxy {
  static readonly proxyKind = "rlock";
}
