/**
 * Waits on one shared futex word: "count the sleeper, futex wait, re-check",
 * written once for every primitive (Event, Condition, Barrier) and queue.
 *
 * Why no wake is missed: a waiter counts itself in its `sleepers` word before
 * the futex compares the watched word with `expected`. A waker changes the
 * watched word first and then reads `sleepers`: either it sees the sleeper
 * and wakes it, or the sleeper's futexWait sees the new value and returns at
 * once. Async waits are counted the same way, so that the wake reaches their
 * realm's waker thread (native/wake-on-change.ts).
 */
import { futexWait } from "../native/futex.ts";
import { waitForChange } from "../native/wake-on-change.ts";
import { pollUntil } from "./poll.ts";
import { SLICE_MS } from "./tuning.ts";

/**
 * Blocks the calling thread while the word at `address` holds `expected`,
 * until `deadline`, at most one slice. The caller re-checks its condition.
 */
export function sleepOnWord(address: number, expected: number, deadline: number): void {
  const left = deadline - performance.now();
  if (left > 0) futexWait(address, expected, Math.min(left, SLICE_MS));
}

/**
 * Waits without blocking the event loop while the word at `address` holds
 * `expected`, until `deadline`, at most one slice. The realm's waker thread
 * (native/wake-on-change.ts) reports a futex wake within microseconds; where
 * it cannot run, this sleeps a little instead. The caller re-checks its condition.
 */
export async function awaitWord(address: number, expected: number, deadline: number): Promise<void> {
  const left = deadline - performance.now();
  if (left <= 0) return;
  const change = waitForChange(address, expected, Math.min(left, SLICE_MS));
  if (change !== undefined) await change;
  else await Bun.sleep(Math.min(1, left));
}

/** `sleepOnWord`, counted in `words[sleepers]` while it sleeps. */
export function sleepCounted(words: Int32Array, sleepers: number, address: number, expected: number, deadline: number) {
  Atomics.add(words, sleepers, 1);
  try {
    sleepOnWord(address, expected, deadline);
  } finally {
    Atomics.sub(words, sleepers, 1);
  }
}

/** `awaitWord`, counted in `words[sleepers]` while it waits. */
export async function awaitCounted(
  words: Int32Array,
  sleepers: number,
  address: number,
  expected: number,
  deadline: number,
): Promise<void> {
  Atomics.add(words, sleepers, 1);
  try {
    await awaitWord(address, expected, deadline);
  } finally {
    Atomics.sub(words, sleepers, 1);
  }
}

/** A futex word in a shared block: `words[index]`, at `address`. */
export interface SharedWord {
  readonly words: Int32Array;
  readonly index: number;
  readonly address: number;
}

/**
 * Blocks the calling thread while `word` holds `expected`, until `deadline`
 * (Infinity: none), counted in `words[sleepers]` when given.
 * @returns true once the word changed, false when the deadline passed first
 */
export function sleepWhile(word: SharedWord, expected: number, deadline: number, sleepers?: number): boolean {
  const { words, index, address } = word;
  for (;;) {
    if (Atomics.load(words, index) !== expected) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const ms = left === Number.POSITIVE_INFINITY ? undefined : left;
    if (sleepers === undefined) futexWait(address, expected, ms);
    else {
      Atomics.add(words, sleepers, 1);
      futexWait(address, expected, ms);
      Atomics.sub(words, sleepers, 1);
    }
  }
}

/**
 * Waits without blocking the event loop while `word` holds `expected`, for
 * `timeout` ms (undefined: no limit), counted in `words[sleepers]` when given.
 * @returns true once the word changed, false when the timeout passed first
 */
export async function awaitWhile(
  word: SharedWord,
  expected: number,
  timeout: number | undefined,
  sleepers?: number,
): Promise<boolean> {
  const { words, index, address } = word;
  if (sleepers !== undefined) Atomics.add(words, sleepers, 1);
  try {
    return await pollUntil(() => Atomics.load(words, index) !== expected, timeout, {
      address,
      read: () => Atomics.load(words, index),
    });
  } finally {
    if (sleepers !== undefined) Atomics.sub(words, sleepers, 1);
  }
}
