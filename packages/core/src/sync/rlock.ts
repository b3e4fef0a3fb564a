/**
 * RLock: a recursive mutex owned by one thread of one process at a time
 * (Python: `multiprocessing.RLock`). The owner's kernel thread id is in the
 * OWNER word and the depth in COUNT; only the owner touches COUNT.
 */
import { registerReducer } from "../codec/reducers.ts";
import { threadId } from "../native/thread.ts";
import { checkTimeout } from "../timeout.ts";
import { type Held, held } from "./held.ts";
import { type AcquireOptions, SemLock, type SemLockState, Slot } from "./sem-lock.ts";

/**
 * A lock that its owner may acquire again; it is free once released as many
 * times as it was acquired. Only the owning thread may release it.
 *
 * @example
 * const rlock = mp.RLock();
 * rlock.acquireSync(); rlock.acquireSync();
 * rlock.release(); rlock.release();
 */
export class RLock extends SemLock {
  /** @param state internal: rebuilds a lock received from another process. */
  constructor(state?: SemLockState) {
    super(state ?? { value: 1, max: 1 });
  }

  #reenter(): boolean {
    const w = this.words;
    if (Atomics.load(w, Slot.OWNER) === threadId() && this.value === 0) {
      w[Slot.COUNT]! += 1;
      return true;
    }
    return false;
  }

  #taken(acquired: boolean): boolean {
    // COUNT = 1 was written by SemLock's take, in the same synchronous step:
    // writing it here, after the `await` of an async acquire, would undo a
    // re-entry by another task of this thread in between.
    return acquired;
  }

  /** Waits without blocking the event loop; re-entry by the owner returns true at once. */
  async acquire(opts?: AcquireOptions): Promise<boolean> {
    checkTimeout(opts?.timeout, "RLock.acquire"); // a re-entry checks it too
    return this.#reenter() || this.#taken(await this.take(opts));
  }

  /** Blocks the calling thread until acquired; re-entry by the owner returns true at once. */
  acquireSync(opts?: AcquireOptions): boolean {
    checkTimeout(opts?.timeout, "RLock.acquire"); // a re-entry checks it too
    return this.#reenter() || this.#taken(this.takeSync(opts));
  }

  /** Releases one level. @throws RangeError when the caller is not the owner. */
  release(): void {
    const w = this.words;
    if (this.value !== 0 || Atomics.load(w, Slot.OWNER) !== threadId()) {
      throw new RangeError("RLock released by a thread that does not own it");
    }
    const depth = w[Slot.COUNT]! - 1;
    w[Slot.COUNT] = depth;
    if (depth === 0) {
      Atomics.store(w, Slot.OWNER, 0);
      this.give();
    }
  }

  /** Whether the calling thread owns the lock (Python: `RLock._is_owned`). */
  isMine(): boolean {
    return this.value === 0 && Atomics.load(this.words, Slot.OWNER) === threadId();
  }

  /** Recursion depth held by the caller (0 when it does not own the lock). */
  depth(): number {
    return this.isMine() ? (this.words[Slot.COUNT] ?? 0) : 0;
  }

  /** Acquires and returns a guard for `using` (Python: `with rlock:`). @throws TimeoutError */
  holdSync(opts?: AcquireOptions): Held {
    return held(this, this.acquireSync(opts), opts?.timeout);
  }

  /** Async form of `holdSync`. @throws TimeoutError */
  async hold(opts?: AcquireOptions): Promise<Held> {
    return held(this, await this.acquire(opts), opts?.timeout);
  }

  /** Releases every level the caller holds, so `using` an RLock acquired by hand frees it. */
  [Symbol.dispose](): void {
    while (this.isMine()) this.release();
  }

  override toString(): string {
    const owner = this.value === 0 ? this.words[Slot.OWNER] : "None";
    return `<RLock(${owner}, ${this.value === 0 ? this.words[Slot.COUNT] : 0})>`;
  }

  static {
    registerReducer(RLock, {
      tag: "RLock",
      reduce: (lock) => lock.reduceState(),
      rebuild: (state) => new RLock(state as SemLockState),
    });
  }
}
