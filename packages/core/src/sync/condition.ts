/**
 * Condition: wait until notified, across processes and threads (Python:
 * `multiprocessing.Condition`), over a table of waiter slots in shared memory.
 *
 * Words: NEXT_SEQ numbers the waiters in arrival order; WAITING counts slots
 * whose waiter was not yet notified. Each slot is [STATE, SEQ, TID]: STATE is
 * the futex word its waiter sleeps on (FREE, WAITING, NOTIFIED). Every change
 * to the table happens under the condition's lock, except that a waiter reads
 * its own STATE while it sleeps; so `notify(n)` wakes exactly the n oldest
 * waiters (FIFO, as in Python's threading), and a waiter that arrives later
 * cannot steal their wake-up. TID names the waiter's thread, so a waiter that
 * died while waiting neither keeps its slot nor swallows a `notify` (#16).
 * Unlike CPython's, `notify` never blocks.
 */
import { registerReducer } from "../codec/reducers.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { futexWake } from "../native/futex.ts";
import { threadId } from "../native/thread.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import { checkTimeout } from "../timeout.ts";
import { holderDied } from "../wait/dead-holder.ts";
import { awaitWhile, type SharedWord, sleepWhile } from "../wait/word.ts";
import type { Held } from "./held.ts";
import type { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";
import { type AcquireOptions, heldByCaller } from "./sem-lock.ts";
import { waitForAsync, waitForSync } from "../wait/wait-for.ts";

/** Named word offsets of the header, then of each slot (relative to the slot's first word). */
const Head = { NEXT_SEQ: 0, WAITING: 1 } as const;
const HEAD_WORDS = 2;
const Waiter = { STATE: 0, SEQ: 1, TID: 2 } as const;
const SLOT_WORDS = 3;
const State = { FREE: 0, WAITING: 1, NOTIFIED: 2 } as const;
/** Most waiters one Condition can have at once (1.5 KiB of shared memory). */
export const MAX_WAITERS = 128;

/** How a Condition travels to another process. */
export interface ConditionState {
  block: BlockHandle;
  lock: Lock | RLock;
}

/**
 * A condition variable over a Lock or RLock (default: a new RLock, as in
 * Python). Hold the lock, check your predicate, `wait` (which releases the
 * lock while sleeping and takes it back before returning); whoever changes
 * the state, holding the lock, calls `notify` or `notifyAll`.
 *
 * @example
 * const cond = mp.Condition();
 * cond.acquireSync();
 * try { cond.waitForSync(() => ready[0] === 1, 5000); } finally { cond.release(); }
 */
export class Condition {
  readonly #block: Block;
  readonly #words: Int32Array;
  readonly #lock: Lock | RLock;

  /**
   * @param lock the lock to use (Python: `Condition(lock)`); default a new RLock
   * @throws TypeError when `lock` is not a Lock or RLock
   */
  constructor(lock?: Lock | RLock | ConditionState) {
    if (lock !== undefined && "block" in lock && "lock" in lock) {
      this.#block = attach(lock.block);
      this.#lock = lock.lock;
    } else {
      if (lock !== undefined && typeof (lock as Partial<Lock>).acquireSync !== "function") {
        throw new TypeError(`Condition lock must be a Lock or an RLock, got ${String(lock)}`);
      }
      this.#block = allocate((HEAD_WORDS + MAX_WAITERS * SLOT_WORDS) * 4, { reusable: true });
      this.#lock = (lock as Lock | RLock | undefined) ?? new RLock();
    }
    this.#words = this.#block.int32(HEAD_WORDS + MAX_WAITERS * SLOT_WORDS);
  }

  /** The underlying lock. */
  get lock(): Lock | RLock {
    return this.#lock;
  }

  /** Acquires the underlying lock without blocking the event loop. */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(opts);
  }

  /** Acquires the underlying lock, blocking the calling thread. */
  acquireSync(opts?: AcquireOptions): boolean {
    return this.#lock.acquireSync(opts);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.#lock.release();
  }

  /** Acquires the lock and returns a guard for `using` (Python: `with cond:`). */
  holdSync(opts?: AcquireOptions): Held {
    return this.#lock.holdSync(opts);
  }

  /** Async form of `holdSync`. */
  hold(opts?: AcquireOptions): Promise<Held> {
    return this.#lock.hold(opts);
  }

  #checkHeld(what: string): void {
    if (!heldByCaller(this.#lock)) {
      throw new RangeError(`Condition.${what}() needs the condition's lock held by the caller`);
    }
  }

  /** Index of the first word of slot `i`. */
  #at(i: number): number {
    return HEAD_WORDS + i * SLOT_WORDS;
  }

  /** Claims a free slot for the caller (lock held). */
  #claim(): number {
    const w = this.#words;
    let slot = this.#findFree();
    if (slot < 0) {
      this.#reclaimDead();
      slot = this.#findFree();
    }
    if (slot < 0) throw new RangeError(`Condition.wait(): more than ${MAX_WAITERS} waiters at once`);
    const at = this.#at(slot);
    w[at + Waiter.SEQ] = w[Head.NEXT_SEQ]!;
    w[Head.NEXT_SEQ] = (w[Head.NEXT_SEQ]! + 1) | 0;
    w[at + Waiter.TID] = threadId();
    w[Head.WAITING]! += 1;
    Atomics.store(w, at + Waiter.STATE, State.WAITING);
    return slot;
  }

  #findFree(): number {
    for (let i = 0; i < MAX_WAITERS; i++) if (Atomics.load(this.#words, this.#at(i)) === State.FREE) return i;
    return -1;
  }

  /** Frees the slots of waiters whose thread has died (killed while waiting). */
  #reclaimDead(): void {
    const w = this.#words;
    for (let i = 0; i < MAX_WAITERS; i++) {
      const at = this.#at(i);
      const state = Atomics.load(w, at + Waiter.STATE);
      if (state !== State.FREE && holderDied(w[at + Waiter.TID]!)) {
        if (state === State.WAITING) w[Head.WAITING]! -= 1;
        Atomics.store(w, at + Waiter.STATE, State.FREE);
      }
    }
  }

  /** Frees the caller's slot after it took the lock back; true when it had been notified. */
  #leave(slot: number): boolean {
    const w = this.#words;
    const at = this.#at(slot);
    const notified = Atomics.load(w, at + Waiter.STATE) === State.NOTIFIED;
    if (!notified) w[Head.WAITING]! -= 1;
    Atomics.store(w, at + Waiter.STATE, State.FREE);
    return notified;
  }

  /** Releases the lock completely; returns how many levels to take back. */
  #releaseAll(): number {
    const lock = this.#lock;
    const depth = lock instanceof RLock ? lock.depth() : 1;
    for (let i = 0; i < depth; i++) lock.release();
    return depth;
  }

  /**
   * Releases the lock, sleeps until notified or `timeout` ms pass, and takes
   * the lock back (to the same depth for an RLock). Python: `wait(timeout)`.
   * @returns true when notified, false when the timeout passed
   * @throws RangeError when the caller does not hold the lock
   */
  waitSync(timeout?: number): boolean {
    const ms = checkTimeout(timeout, "Condition.wait");
    this.#checkHeld("wait");
    const slot = this.#claim();
    const at = this.#at(slot);
    const word = this.#stateWord(at);
    const deadline = ms === undefined ? Number.POSITIVE_INFINITY : performance.now() + ms;
    const depth = this.#releaseAll();
    try {
      // notify sets STATE to NOTIFIED before waking: a notify between the
      // release above and the wait below makes futexWait return at once.
      sleepWhile(word, State.WAITING, deadline);
    } finally {
      for (let i = 0; i < depth; i++) this.#lock.acquireSync();
    }
    return this.#leave(slot);
  }

  /** Async form of `waitSync`: never blocks the event loop. */
  async wait(timeout?: number): Promise<boolean> {
    const ms = checkTimeout(timeout, "Condition.wait");
    this.#checkHeld("wait");
    const slot = this.#claim();
    const at = this.#at(slot);
    const depth = this.#releaseAll();
    const pid = process.pid;
    try {
      await awaitWhile(this.#stateWord(at), State.WAITING, ms);
    } finally {
      if (forkedSince(pid)) await forever;
      await this.#lock.acquire();
      for (let i = 1; i < depth; i++) this.#lock.acquireSync();
    }
    return this.#leave(slot);
  }

  /** The STATE word of the waiter slot at `at`. */
  #stateWord(at: number): SharedWord {
    return { words: this.#words, index: at + Waiter.STATE, address: this.#block.address((at + Waiter.STATE) * 4) };
  }

  /**
   * Waits until `predicate()` is truthy (Python: `wait_for`); the lock must be held.
   * @returns the last value of the predicate (falsy only when the timeout passed)
   */
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    return waitForSync((ms) => this.waitSync(ms), predicate, timeout);
  }

  /** Async form of `waitForSync`; the predicate may return a promise. */
  waitFor<T>(predicate: () => T | Promise<T>, timeout?: number): Promise<T> {
    return waitForAsync((ms) => this.wait(ms), predicate, timeout);
  }

  /**
   * Wakes the `n` longest-waiting live waiters, or all when fewer wait
   * (Python: `notify(n)`). A waiter whose thread died while waiting (its
   * process killed, its worker terminated) does not count: its slot is freed
   * and the next oldest is woken instead. Never blocks.
   * @throws RangeError when the caller does not hold the lock
   */
  notify(n = 1): void {
    this.#checkHeld("notify");
    const w = this.#words;
    for (let k = 0; k < n && w[Head.WAITING]! > 0; ) {
      const oldest = this.#oldest();
      if (oldest < 0) break;
      // A wake that reached a sleeper proves it alive, which is the common
      // case: no system call beyond the wake. Otherwise the waiter is either
      // not asleep yet (between its release and its futex wait, or an async
      // waiter whose waker has not re-armed) or dead; only when another
      // waiter could take its place is it worth asking which.
      if (this.#wake(oldest) > 0 || w[Head.WAITING] === 0 || this.#alive(oldest)) k++;
    }
  }

  /** The slot of the longest-waiting waiter not yet notified, or -1. */
  #oldest(): number {
    const w = this.#words;
    let oldest = -1;
    let oldestSeq = 0;
    for (let i = 0; i < MAX_WAITERS; i++) {
      const at = this.#at(i);
      if (Atomics.load(w, at + Waiter.STATE) !== State.WAITING) continue;
      // Sequence numbers may wrap: compare by difference.
      if (oldest < 0 || ((w[at + Waiter.SEQ]! - oldestSeq) | 0) < 0) {
        oldest = i;
        oldestSeq = w[at + Waiter.SEQ]!;
      }
    }
    return oldest;
  }

  /**
   * Whether the waiter of a slot just notified still lives; a dead one's slot
   * is freed (lock held, and a dead thread never touches its slot again).
   */
  #alive(slot: number): boolean {
    const at = this.#at(slot);
    if (!holderDied(this.#words[at + Waiter.TID]!)) return true;
    Atomics.store(this.#words, at + Waiter.STATE, State.FREE);
    return false;
  }

  /** Wakes every waiter (Python: `notify_all`). @throws RangeError when the caller does not hold the lock */
  notifyAll(): void {
    this.#checkHeld("notifyAll");
    const w = this.#words;
    for (let i = 0; i < MAX_WAITERS && w[Head.WAITING]! > 0; i++) {
      if (Atomics.load(w, this.#at(i) + Waiter.STATE) === State.WAITING) this.#wake(i);
    }
  }

  /** Marks a waiter notified and wakes it; returns how many sleepers the wake reached (0 or 1). */
  #wake(slot: number): number {
    const w = this.#words;
    const at = this.#at(slot);
    Atomics.store(w, at + Waiter.STATE, State.NOTIFIED);
    w[Head.WAITING]! -= 1;
    return futexWake(this.#block.address((at + Waiter.STATE) * 4), 1);
  }

  toString(): string {
    return `<Condition(${String(this.#lock)}, ${Atomics.load(this.#words, Head.WAITING)})>`;
  }

  static {
    registerReducer(Condition, {
      tag: "Condition",
      reduce: (cond): ConditionState => ({ block: cond.#block.handle(), lock: cond.#lock }),
      rebuild: (state) => new Condition(state as ConditionState),
    });
  }
}
