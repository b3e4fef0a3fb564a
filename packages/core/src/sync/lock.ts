/** Lock: a non-recursive mutex shared by processes and threads (Python: `multiprocessing.Lock`). */
import { registerReducer } from "../codec/reducers.ts";
import { type Held, held } from "./held.ts";
import { type AcquireOptions, SemLock, type SemLockState, Slot } from "./sem-lock.ts";

/**
 * A lock that any process or thread may release (as in Python), whose
 * uncontended acquire + release is two atomic operations and no system call.
 * Create it with `mp.Lock()`; send it to children in `args`, a Queue or a Pipe.
 *
 * @example
 * const lock = mp.Lock();
 * lock.acquireSync();
 * try { report(); } finally { lock.release(); }
 * // or, released at the end of the block:
 * using _ = lock.holdSync();
 */
export class Lock extends SemLock {
  /** @param state internal: rebuilds a lock received from another process. */
  constructor(state?: SemLockState) {
    super(state ?? { value: 1, max: 1 });
  }

  /**
   * Waits for the lock without blocking the event loop.
   * @returns true when acquired; false when `block: false` or the timeout passed.
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.take(opts);
  }

  /** Blocks the calling thread until acquired (Python: `acquire(block, timeout)`). */
  acquireSync(opts?: AcquireOptions): boolean {
    return this.takeSync(opts);
  }

  /** Releases the lock. @throws RangeError when it is not locked. */
  release(): void {
    this.give();
  }

  /** Acquires and returns a guard for `using` (Python: `with lock:`). @throws TimeoutError */
  holdSync(opts?: AcquireOptions): Held {
    return held(this, this.takeSync(opts), opts?.timeout);
  }

  /** Async form of `holdSync`: `using _ = await lock.hold()`. @throws TimeoutError */
  async hold(opts?: AcquireOptions): Promise<Held> {
    return held(this, await this.take(opts), opts?.timeout);
  }

  /** Releases the lock if it is locked, so `using` a lock acquired by hand releases it. */
  [Symbol.dispose](): void {
    if (this.locked()) this.give();
  }

  /** Whether anyone holds the lock now (a snapshot, for diagnostics). */
  locked(): boolean {
    return this.value === 0;
  }

  override toString(): string {
    return `<Lock(${this.locked() ? `owner=${this.words[Slot.OWNER]}` : "unlocked"})>`;
  }

  protected override overReleaseMessage(): string {
    return "Lock released while not locked";
  }

  static {
    registerReducer(Lock, {
      tag: "Lock",
      reduce: (lock) => lock.reduceState(),
      rebuild: (state) => new Lock(state as SemLockState),
    });
  }
}
