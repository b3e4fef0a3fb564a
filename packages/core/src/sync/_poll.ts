/**
 * The async side of every shared-word wait: the event loop must not block.
 * When the caller names the futex word its condition depends on, the realm's
 * waker thread (native/wake-on-change.ts) reports the word's change within
 * microseconds; otherwise, or where no waker can run, the condition is
 * re-checked with a growing pause (0.5 ms up to 8 ms).
 */
import { forever, forkedSince } from "../inherited-wait.ts";
import { waitForChange } from "../native/wake-on-change.ts";

/** Longest pause between two checks when polling (ms). */
const MAX_PAUSE = 8;
/** Even with a waker, re-check at least this often (ms): a safety net, never the normal path. */
const RECHECK_MS = 50;

/** The futex word a wait depends on: its address and a reader of its current value. */
export interface WatchedWord {
  readonly address: number;
  read(): number;
}

/**
 * Resolves true as soon as `ready()` returns true, or with one last `ready()`
 * once `timeout` ms passed (undefined: no limit).
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
    const change = word === undefined ? undefined : waitForChange(word.address, expected!, Math.min(left, RECHECK_MS));
    if (change !== undefined) await change;
    else {
      await Bun.sleep(Math.min(pause, left));
      pause = Math.min(MAX_PAUSE, pause === 0 ? 0.5 : pause * 2);
    }
    if (forkedSince(pid)) await forever; // ready() takes permits and locks
  }
}
