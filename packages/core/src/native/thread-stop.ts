/**
 * Stopping a thread that is blocked in a native wait (the worker backend's
 * terminate and kill). A JS thread asleep in futex(2) never sees the runtime's
 * termination request (the kernel restarts the wait after the runtime's
 * signal), and a thread ended by that request runs no more JavaScript, so it
 * cannot close its descriptors. So a worker installs a *stop word*: from then
 * on `futexWait` sleeps on its word and the stop word at once (futex_waitv,
 * Linux 5.16+), `pollReadable` sleeps in short slices with a look at the stop
 * word between them, and the thread ends itself through `onStop`. A thread
 * without a stop word pays one `undefined` check per wait.
 */
import { ptr } from "bun:ffi";
import type { WaitResult } from "./futex.ts";
import { Errno, errno, fail, libc } from "./libc.ts";

/** futex_waitv is 449 on every architecture (it postdates the split numbering). */
const SYS_FUTEX_WAITV = 449;
const SYS_CLOCK_GETTIME = process.arch === "arm64" ? 113 : 228;
const CLOCK_MONOTONIC = 1;
/** struct futex_waitv flag: a 32-bit word, shared (not FUTEX2_PRIVATE), like `futexWait`. */
const FUTEX2_SIZE_U32 = 2n;
/** Longest poll(2) sleep between two looks at the stop word, in ms. */
const POLL_SLICE_MS = 20;

/** The stop word of the calling thread and what to do when it is set. */
export interface StopWord {
  readonly view: Int32Array;
  /** Index of the stop word: non-zero once the thread must stop. */
  readonly index: number;
  /** Index of the waiting word: 1 while the thread is inside a native wait. */
  readonly waiting: number;
  /** Address of the stop word, for futex_waitv. */
  readonly address: number;
  /** Ends the thread; called when the stop word is found non-zero. */
  readonly onStop: () => never;
}

/**
 * The calling thread's stop word, or undefined. A JS realm lives on one
 * thread, so a module variable is per thread. Read by `futex.ts` and `pidfd.ts`.
 */
export let stopWord: StopWord | undefined;

/**
 * Makes every later native wait of the calling thread end as soon as
 * `view[index]` becomes non-zero, by calling `onStop` (which must not return).
 * Whoever sets the word must then `futexWake` its address (see `addressOf`).
 *
 * While the thread is inside a native wait, `view[waiting]` is 1. It is
 * cleared *before* the stop word is read when the wait ends, so a stopper
 * that stores the stop word and then reads 1 here knows the thread will see
 * the stop and end through `onStop` (Dekker's pattern: each side stores, then
 * reads the other's word); reading 0, it must interrupt the thread some other
 * way (a worker: `worker.terminate()`).
 *
 * @param view A view over memory shared with the stopper (e.g. a SharedArrayBuffer).
 * @param words Indexes in `view` of the 32-bit stop word and waiting word.
 * @param onStop Ends the thread, e.g. `process.exit()` in a worker.
 * @example
 * installStopWord(control, { stop: Word.STOP, waiting: Word.WAITING }, () => process.exit());
 */
export function installStopWord(view: Int32Array, words: { stop: number; waiting: number }, onStop: () => never): void {
  stopWord = { view, index: words.stop, waiting: words.waiting, address: addressOf(view, words.stop), onStop };
}

/**
 * Address of the 32-bit word `view[index]` in this process, for futex calls.
 * The memory must not move: a SharedArrayBuffer or a mapped segment.
 */
export function addressOf(view: Int32Array, index: number): number {
  return ptr(view, index * 4);
}

/** Marks the calling thread as inside a native wait (no-op without a stop word). */
export function waitBegins(): void {
  const stop = stopWord;
  if (stop !== undefined) Atomics.store(stop.view, stop.waiting, 1);
}

/** Marks the wait as over, then ends the calling thread if its stop word is set. */
export function waitEnds(): void {
  const stop = stopWord;
  if (stop === undefined) return;
  Atomics.store(stop.view, stop.waiting, 0);
  if (Atomics.load(stop.view, stop.index) !== 0) stop.onStop();
}

/** How long one poll(2) may sleep when `leftMs` remain (-1: forever), so the stop word is seen soon. */
export function pollSlice(leftMs: number): number {
  if (stopWord === undefined) return leftMs;
  return leftMs < 0 ? POLL_SLICE_MS : Math.min(leftMs, POLL_SLICE_MS);
}

// Two struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }.
// Explicit ArrayBuffers: JSC may move small inline typed arrays once code is
// hot, which would leave the cached addresses pointing at stale memory.
const waiters = new BigUint64Array(new ArrayBuffer(6 * 8));
const waitersAddress = ptr(waiters);
const timespec = new BigInt64Array(new ArrayBuffer(16));
const timespecAddress = ptr(timespec);

/** Sets `timespec` to now + `ms` on CLOCK_MONOTONIC: futex_waitv takes an absolute deadline. */
function deadlineIn(ms: number): void {
  if (Number(libc.syscall(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, timespecAddress, 0, 0, 0, 0)) !== 0) {
    fail("clock_gettime");
  }
  const ns = timespec[1]! + BigInt(Math.floor((Math.max(0, ms) % 1000) * 1e6));
  timespec[0] = timespec[0]! + BigInt(Math.floor(Math.max(0, ms) / 1000)) + ns / 1_000_000_000n;
  timespec[1] = ns % 1_000_000_000n;
}

/**
 * `futexWait` for a thread with a stop word: sleeps while the word at `address`
 * equals `expected` and the stop word is 0, at most `timeoutMs`. The kernel
 * checks both words and sleeps atomically, so a stop set (and woken) at any
 * moment after the caller's last check is never missed. Calls `onStop` when
 * the stop word is set.
 */
export function futexWaitOrStop(address: number, expected: number, timeoutMs: number | undefined): WaitResult {
  const stop = stopWord!;
  waiters[0] = BigInt(expected >>> 0);
  waiters[1] = BigInt(address);
  waiters[2] = FUTEX2_SIZE_U32;
  waiters[3] = 0n; // the stop word: sleep while it is 0
  waiters[4] = BigInt(stop.address);
  waiters[5] = FUTEX2_SIZE_U32;
  let ts = 0;
  if (timeoutMs !== undefined) {
    deadlineIn(timeoutMs);
    ts = timespecAddress;
  }
  waitBegins();
  const r = libc.syscall(SYS_FUTEX_WAITV, waitersAddress, 2, 0, ts, CLOCK_MONOTONIC, 0);
  const e = r < 0n ? errno() : 0;
  waitEnds();
  if (r >= 0n) return "woken";
  if (e === Errno.EAGAIN) return "changed";
  if (e === Errno.ETIMEDOUT) return "timeout";
  if (e === Errno.EINTR) return "woken";
  fail("futex_waitv", e);
}
