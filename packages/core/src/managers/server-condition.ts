/**
 * The Condition a manager server holds (Python: `threading.Condition` in the
 * server): over a server RLock (the default) or a server Lock, given as the
 * manager proxy of either. Ownership follows the lock: an RLock knows its
 * owner (`caller.ts`); a plain Lock counts as held by whoever calls while it
 * is locked, as in Python's `Condition._is_owned`.
 */
import { Lock } from "../sync/lock.ts";
import { checkTimeout } from "../timeout.ts";
import { BaseProxy, referentOf } from "./proxy.ts";
import { RuntimeError, type ServerAcquireOptions, ServerRLock } from "./server-rlock.ts";

/** A Condition for callers of a manager (Python: `SyncManager.Condition`'s referent). */
export class ServerCondition {
  readonly #lock: ServerRLock | Lock;
  /** The proxy the lock came as, kept so that the server keeps holding the lock's id. */
  readonly #lockProxy: BaseProxy | null;
  readonly #waiters: (() => void)[] = [];

  /** @param lock a manager RLock or Lock proxy (its server object is used); default a new RLock */
  constructor(lock?: ServerRLock | Lock | BaseProxy | null) {
    this.#lockProxy = lock instanceof BaseProxy ? lock : null;
    const inner = lock instanceof BaseProxy ? referentOf(lock) : (lock ?? new ServerRLock());
    if (!(inner instanceof ServerRLock || inner instanceof Lock)) {
      throw new TypeError(`Condition lock must be a manager Lock or RLock, got ${String(lock)}`);
    }
    this.#lock = inner;
  }

  acquire(owner: string, opts: ServerAcquireOptions = {}): Promise<boolean> {
    const l = this.#lock;
    return l instanceof ServerRLock ? l.acquire(owner, opts) : l.acquire(opts);
  }

  release(owner: string): void {
    const l = this.#lock;
    if (l instanceof ServerRLock) l.release(owner);
    else l.release();
  }

  #checkOwned(owner: string, what: string): void {
    const l = this.#lock;
    const owned = l instanceof ServerRLock ? l._isOwned(owner) : l.locked();
    if (!owned) throw new RuntimeError(`cannot ${what} on un-acquired lock`);
  }

  /**
   * Releases the lock, waits for a notify or `timeout` ms, takes the lock
   * back (at the same depth for an RLock).
   * @returns true when notified, false when the timeout passed
   */
  async wait(owner: string, timeout?: number): Promise<boolean> {
    const ms = checkTimeout(timeout, "Condition.wait");
    this.#checkOwned(owner, "wait");
    let notified = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woken = new Promise<void>((resolve) => {
      const wake = () => {
        notified = true;
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
      if (ms !== undefined) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(wake);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve();
        }, ms);
      }
    });
    // The waiter is queued before the lock is released: a notify right after the release finds it.
    const l = this.#lock;
    if (l instanceof ServerRLock) {
      const depth = l._releaseAll();
      await woken;
      await l._take(owner, depth, undefined);
    } else {
      l.release();
      await woken;
      await l.acquire();
    }
    return notified;
  }

  /** Wakes the `n` longest waiters (Python: `notify(n)`). @throws RuntimeError when the lock is not held */
  notify(owner: string, n = 1): void {
    this.#checkOwned(owner, "notify");
    for (const wake of this.#waiters.splice(0, Math.max(0, n))) wake();
  }

  /** Wakes every waiter (Python: `notify_all`). @throws RuntimeError when the lock is not held */
  notifyAll(owner: string): void {
    this.notify(owner, this.#waiters.length);
  }

  toString(): string {
    return `<Condition(${String(this.#lockProxy ?? this.#lock)}, ${this.#waiters.length})>`;
  }
}
