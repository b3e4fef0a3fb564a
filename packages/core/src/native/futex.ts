/**
 * futex(2) wait and wake on a 32-bit word of shared memory. The words live in
 * MAP_SHARED mappings, so the non-private operations are used: they key on the
 * physical page and so reach waiters in every process and thread.
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";
import { futexWaitOrStop, stopWord } from "./thread-stop.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

// An explicit ArrayBuffer: JSC may move a small inline typed array once code
// is hot, which would leave the cached address pointing at stale memory.
const timespec = new BigInt64Array(new ArrayBuffer(16));
const timespecAddress = ptr(timespec);

/** Outcome of `futexWait`. */
export type WaitResult = "woken" | "changed" | "timeout";

/**
 * Sleeps while the word at `address` equals `expected`, at most `timeoutMs`
 * (undefined: forever). Returns "changed" at once when the word already
 * differs: the kernel compares and sleeps atomically, so a wake between the
 * caller's check and this call is never missed.
 */
export function futexWait(address: number, expected: number, timeoutMs?: number): WaitResult {
  // A worker thread that can be terminated also wakes on its stop word.
  if (stopWord !== undefined) return futexWaitOrStop(address, expected, timeoutMs);
  let ts = 0;
  if (timeoutMs !== undefined) {
    const ms = Math.max(0, timeoutMs);
    timespec[0] = BigInt(Math.floor(ms / 1000));
    timespec[1] = BigInt(Math.floor((ms % 1000) * 1e6));
    ts = timespecAddress;
  }
  const r = libc.syscall(SYS.futex, address, FUTEX_WAIT, expected, ts, 0, 0);
  if (r === 0n) return "woken";
  const e = errno();
  if (e === Errno.EAGAIN) return "changed";
  if (e === Errno.ETIMEDOUT) return "timeout";
  if (e === Errno.EINTR) return "woken";
  fail("futex(FUTEX_WAIT)", e);
}

/** Wakes up to `count` waiters on the word at `address`; returns how many woke. */
export function futexWake(address: number, count = 1): number {
  const r = libc.syscall(SYS.futex, address, FUTEX_WAKE, count, 0, 0, 0);
  if (r < 0n) fail("futex(FUTEX_WAKE)");
  return Number(r);
}

/** A word nobody wakes, for `sleepSync`. */
const nap = new Int32Array(new SharedArrayBuffer(4));
const napAddress = ptr(nap);

/**
 * Sleeps `ms` like `Bun.sleepSync`, except that a worker thread's terminate()
 * ends it (its stop word, see thread-stop.ts) instead of waiting it out.
 */
export function sleepSync(ms: number): void {
  const deadline = performance.now() + ms;
  for (let left = ms; left > 0; left = deadline - performance.now()) futexWait(napAddress, 0, left);
}
