/**
 * Dead holders: a word that records the thread holding something (a lock's
 * owner, a semaphore's holder, a condition's waiter) outlives a thread that
 * was killed while holding it. CPython leaves its waiters hanging; every
 * primitive here asks the same two questions, written once.
 */
import { threadAlive } from "../native/liveness.ts";
import { threadId } from "../native/thread.ts";

/**
 * Whether the thread `tid` recorded as a holder has died. 0 (no holder) and
 * the caller's own thread never count as dead.
 */
export function holderDied(tid: number): boolean {
  return tid !== 0 && tid !== threadId() && !threadAlive(tid);
}

/**
 * Takes over `words[index]` from a dead holder: when the thread `holder`
 * (named by the word's value `seen`) has died, one compare-and-swap from
 * `seen` to `mine`. Only one of many waiters can win it, and the word never
 * looks free in between, so nobody else slips in.
 * @returns true when the caller now holds what the dead thread held
 */
export function takeOverDead(words: Int32Array, index: number, seen: number, holder: number, mine: number): boolean {
  return holderDied(holder) && Atomics.compareExchange(words, index, seen, mine) === seen;
}
