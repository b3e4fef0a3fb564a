/**
 * Async waits on a condition: the event loop must not block. When the caller
 * names the futex word its condition depends on, the realm's waker thread
 * (native/wake-on-change.ts) reports the word's change within microseconds;
 * otherwise, or where no waker can run, the condition is re-checked with a
 * growing pause (see `nextPause`).
 */
import { forever, forkedSince } from "../inherited-wait.ts";
import { waitForChange } from "../native/wake-on-change.ts";
import { waitReadable } from "../native/wake-on-readable.ts";
import { nextTurn } from "./spin.ts";
import { nextPause, POLL_SPIN_TURNS, SLICE_MS, WATCH_AFTER_TURNS } from "./tuning.ts";

/** The futex word a wait depends on: its address and a reader of its current value. */
export interface WatchedWord {
  readonly address: number;
  read(): number;
}

/**
 * Resolves true as soon as `ready()` returns true, or with one last `ready()`
 * once `timeout` ms passed (undefined: no limit). Even with a waker it
 * re-checks every SLICE_MS: a safety net, never the normal path.
 */
export async function pollUntil(
  ready: () => boolean,
  timeout: number | undefined,
  word?: WatchedWord,
): Promise<boolean> {
  const deadline = timeout === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeout;
  const pid = process.pid;
  let pause = 0;
  for (;;) {
    // Read the word before the condition: a change after this read makes
    // the wait below return at once, so no wake-up falls between the two.
    const expected = word?.read();
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return ready();
    const change = word === undefined ? undefined : waitForChange(word.address, expected!, Math.min(left, SLICE_MS));
    if (change !== undefined) await change;
    else {
      await Bun.sleep(Math.min(pause, left));
      pause = nextPause(pause);
    }
    if (forkedSince(pid)) await forever; // ready() takes permits and locks
  }
}

/**
 * Resolves true as soon as `ready()` returns true, or false once `deadline`
 * passed (after one last check). For waits with no word to watch. It
 * re-checks on the next turns of the loop; with `fds`, the descriptors
 * `ready()` depends on, after WATCH_AFTER_TURNS it wakes when one of them is
 * readable (wake-on-readable.ts); without, or where that cannot run, after
 * POLL_SPIN_TURNS it re-checks with a growing pause.
 */
export async function waitUntil(ready: () => boolean, deadline: number, fds?: readonly number[]): Promise<boolean> {
  const pid = process.pid;
  let pause = 0;
  let woke = false;
  for (let turns = 0; ; turns++) {
    // Once per round: ready() may take what it finds (an accept).
    if (ready()) return true;
    // Woken as readable, yet not ready: part of a message is in, and the
    // descriptor stays readable until the rest comes, so this round pauses.
    const partial: boolean = woke;
    woke = false;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const woken: Promise<boolean> | undefined =
      fds === undefined || partial || turns < WATCH_AFTER_TURNS
        ? undefined
        : waitReadable(fds, Math.min(left, SLICE_MS));
    if (woken !== undefined) woke = await woken;
    else if (turns < POLL_SPIN_TURNS) await nextTurn();
    else {
      pause = nextPause(pause);
      await Bun.sleep(Math.min(pause, left));
    }
    if (forkedSince(pid)) await forever; // ready() may take what is the parent's
  }
}
