/**
 * The table of the readable watcher (wake-on-readable.ts), shared by the
 * main thread, the realm's futex waker (which compiles and starts the
 * watcher's C thread when first asked, off the main thread) and that C thread
 * (wake-on-readable.c). Int32 words: WAKE (bumped and futex-woken by the C
 * thread when a watched descriptor is readable), COUNT, EVENTFD (written to
 * re-arm the C thread), FAILED (its errno if poll failed for good), STATE
 * (see `WatcherState`), then COUNT descriptors.
 */

export const ReadableWord = { WAKE: 0, COUNT: 1, EVENTFD: 2, FAILED: 3, STATE: 4, FDS: 5 } as const;
/** Distinct descriptors watched at once (wake-on-readable.c has the same bound). */
export const MAX_READABLE_FDS = 1019;
/** STATE: not asked for yet, asked for (the waker starts it), running, or unavailable here. */
export const WatcherState = { NONE: 0, REQUESTED: 1, RUNNING: 2, UNAVAILABLE: 3 } as const;

/** This realm's table; it lives as long as the process (the C thread reads it by address). */
export const readableTable = new Int32Array(new SharedArrayBuffer((ReadableWord.FDS + MAX_READABLE_FDS) * 4));
