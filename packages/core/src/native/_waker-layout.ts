/**
 * The table the main thread and its waker thread share (a SharedArrayBuffer
 * inside one process): which 32-bit words the waker sleeps on, and with what
 * expected values. Layout (Int32 words): CONTROL (bumped, then futex-woken,
 * whenever the table changes or a wake-up was handled), COUNT, READY (1 once
 * the waker runs its loop), PAUSE / PAUSED (a pause around fork(2), see
 * `pauseWaker`), TID (the waker's kernel thread id), then per entry EXPECTED; the entries' addresses are in a
 * Float64 view after them.
 */

/** At most this many distinct words are watched at once (futex_waitv takes 128, one is CONTROL). */
export const MAX_WATCHED = 127;
/** Named word offsets of the Int32 view. */
export const Word = { CONTROL: 0, COUNT: 1, READY: 2, PAUSE: 3, PAUSED: 4, TID: 5, EXPECTED: 6 } as const;
/** Byte offset of the Float64 address view (8-aligned). */
export const ADDRESSES_AT = Math.ceil(((Word.EXPECTED + MAX_WATCHED) * 4) / 8) * 8;
/** Size of the shared table in bytes. */
export const TABLE_BYTES = ADDRESSES_AT + MAX_WATCHED * 8;
/** futex_waitv(2) on Linux x86_64 and aarch64 alike. */
export const SYS_FUTEX_WAITV = 449;

/** The message that starts a waker: its table, and the readable watcher's (see _readable-layout.ts). */
export interface WakerStart {
  words: SharedArrayBuffer;
  readable: SharedArrayBuffer;
}
