/**
 * The constants of every library wait (sync/, channel/, pool/), in one place
 * so that they cannot disagree (#19). The figures behind them come from the
 * bench app (`bun run bench`, apps/bench/src/channels.ts for the Pipe and
 * Queue rows).
 */

/**
 * Tries (each one system call + sched_yield) before a sync wait goes to
 * sleep. Why spin: a sleeping thread takes tens of µs to wake when its CPU
 * halted, while a peer usually answers within a few; yielding (not a busy
 * spin) lets a peer woken on the same CPU run.
 */
export const SPIN_TRIES = 32;

/**
 * A yield of the CPU that takes longer than this (ms) means other threads
 * were waiting for the CPU: a receive then stops spinning and sleeps (#20).
 * Measured on the 2-core benchmark machine: a yield takes about 4 µs when a
 * CPU is free; with 12+ runnable processes, a raw round trip that spun
 * measured 58.6 µs against 54.7 µs blocking (CPython), and a manager round
 * trip 75-86 µs against CPython's 44-45 µs.
 */
export const CONTENDED_YIELD_MS = 0.05;

/**
 * Zero-delay event-loop turns an async wait on a futex word takes before it
 * asks the realm's waker thread: the waker answers in µs, so a short spin
 * (the Queue's async get) is enough.
 */
export const WORD_SPIN_TURNS = 16;

/**
 * Zero-delay event-loop turns an async wait with no word to watch (a
 * descriptor, a listener) takes before it starts sleeping: with no waker to
 * wake it, each pause costs at least its length in latency, so it spins longer.
 */
export const POLL_SPIN_TURNS = 64;

/**
 * Zero-delay event-loop turns an async wait on descriptors takes before it
 * asks the readable watcher (wake-on-readable.ts): an answer that comes
 * within them costs no thread wake-up, and a process whose waits all end that
 * soon never starts the watcher's threads.
 */
export const WATCH_AFTER_TURNS = 8;

/** First and longest pause between two checks of an async wait that has no waker (ms). */
const FIRST_PAUSE_MS = 0.25;
const MAX_PAUSE_MS = 4;

/**
 * Longest futex sleep of a sync wait before it re-checks its condition, and
 * how often a lock's waiter asks whether its holder still lives (ms). Short
 * enough that a dead holder is found quickly, long enough that the check (one
 * system call per holder) costs nothing measurable.
 */
export const SLICE_MS = 50;

/** The pause after `pause` (0 at first) of an async wait without a waker: doubling, at most MAX_PAUSE_MS. */
export function nextPause(pause: number): number {
  return Math.min(MAX_PAUSE_MS, pause === 0 ? FIRST_PAUSE_MS : pause * 2);
}
