/**
 * The mutex of one side of a queue's ring (all producers share one, all
 * consumers the other): a shared word holding the thread id of its holder.
 * It is held only for the few microseconds of copying one record, never
 * while waiting for space or items.
 *
 * Word: 0 when free, else `tid | CONTENDED`, where CONTENDED says someone may
 * sleep in futexWait on the word (Drepper's three-state mutex, with the owner
 * recorded). Lock: one compare-and-swap from 0. Unlock: one exchange to 0,
 * and a futex wake only when CONTENDED was set.
 *
 * Dead holders: a waiter sleeps in slices of SLICE_MS; after an empty slice it
 * asks whether the recorded holder still exists, and if not takes the lock
 * over with one compare-and-swap (so two waiters cannot both take it). This is
 * safe because a side's state is published by one atomic store at the end of
 * each operation (see `ring.ts`): a holder that died before that store left
 * nothing half-done that anyone can see.
 */
import { futexWait, futexWake } from "../native/futex.ts";
import { threadId } from "../native/thread.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { takeOverDead as takeOverWord } from "../wait/dead-holder.ts";
import { spinStep } from "../wait/spin.ts";
import { SLICE_MS, SPIN_TRIES } from "../wait/tuning.ts";
import { awaitWord } from "../wait/word.ts";

const CONTENDED = 0x4000_0000;
const OWNER = CONTENDED - 1;

/** A side lock: the word's view, index and address. */
export interface SideLock {
  readonly words: Int32Array;
  readonly index: number;
  readonly address: number;
  /** Run by whoever takes the lock over from a dead holder, before anything else. */
  readonly onTakeOver?: () => void;
}

/** Takes the lock if it is free right now. */
export function tryLock(lock: SideLock): boolean {
  return Atomics.compareExchange(lock.words, lock.index, 0, threadId()) === 0;
}

/**
 * Takes the lock over from a holder that no longer exists; true when this
 * caller now holds it. `seen` is the word as last read.
 */
function takeOverDead(lock: SideLock, seen: number): boolean {
  if (!takeOverWord(lock.words, lock.index, seen, seen & OWNER, threadId() | CONTENDED)) return false;
  lock.onTakeOver?.();
  return true;
}

/**
 * Blocks the calling thread until it holds the lock, or until `deadline`
 * (a `performance.now()` time) passes: then returns false.
 */
export function lockSync(lock: SideLock, deadline: number): boolean {
  if (tryLock(lock)) return true;
  // A yield that took long means the CPUs are busy (load 10-20 in CI): each
  // further one could cost a whole round of the run queue, and 32 of them ate
  // a get's 200 ms before the first look at the holder. Sleep instead.
  for (let i = 0, free = true; i < SPIN_TRIES && free; i++) {
    free = spinStep();
    if (tryLock(lock)) return true;
  }
  const { words, index } = lock;
  const me = threadId();
  for (;;) {
    const v = Atomics.load(words, index);
    if (v === 0) {
      // Others may be asleep: keep CONTENDED so our unlock wakes one.
      if (Atomics.compareExchange(words, index, 0, me | CONTENDED) === 0) return true;
      continue;
    }
    if ((v & CONTENDED) === 0 && Atomics.compareExchange(words, index, v, v | CONTENDED) !== v) continue;
    const left = deadline - performance.now();
    // Out of time, perhaps spent spinning on a loaded machine before any
    // slice ran out: one last look at the holder, so a waiter never gives up
    // on a lock whose holder is gone (a get with items waiting threw Empty).
    if (left <= 0) return takeOverDead(lock, v | CONTENDED);
    // Sleeps only while the word still is `v | CONTENDED`: an unlock in between makes it return at once.
    if (futexWait(lock.address, v | CONTENDED, Math.min(left, SLICE_MS)) === "timeout") {
      if (takeOverDead(lock, v | CONTENDED)) return true;
    }
  }
}

/**
 * Waits, without blocking the event loop beyond a short spin, until the lock
 * is free; false once `deadline` passed. It does not take the lock: the caller
 * takes it with `tryLock` in the same synchronous run as its critical section,
 * and retries when that fails. (A lock taken in here would be held across
 * the caller's await, and sync code of this same thread that ran meanwhile,
 * say a `getSync`, would then wait for itself forever.)
 */
export async function awaitLockFree(lock: SideLock, deadline: number): Promise<boolean> {
  const { words, index } = lock;
  for (let i = 0, free = true; i <= SPIN_TRIES && free; i++) {
    if (Atomics.load(words, index) === 0) return true;
    free = spinStep(); // as in lockSync: no spinning on busy CPUs
  }
  const pid = process.pid;
  let lastCheck = performance.now();
  for (;;) {
    const v = Atomics.load(words, index);
    if (v === 0) return true;
    // CONTENDED makes the holder's unlock wake the futex, and so this realm's waker thread.
    if ((v & CONTENDED) === 0 && Atomics.compareExchange(words, index, v, v | CONTENDED) !== v) continue;
    const now = performance.now();
    if (now >= deadline) {
      // As in lockSync: a last look at the holder before giving up.
      if (!takeOverDead(lock, v | CONTENDED)) return false;
      unlock(lock);
      return true;
    }
    if (now - lastCheck >= SLICE_MS) {
      if (takeOverDead(lock, v | CONTENDED)) {
        unlock(lock); // Repaired and free: the caller takes it like any free lock.
        return true;
      }
      lastCheck = now;
    }
    await awaitWord(lock.address, v | CONTENDED, deadline);
    if (forkedSince(pid)) await forever; // its caller would take the lock
  }
}

/** Releases the lock, waking one sleeper if any may wait. */
export function unlock(lock: SideLock): void {
  const v = Atomics.exchange(lock.words, lock.index, 0);
  if (v & CONTENDED) futexWake(lock.address, 1);
}
