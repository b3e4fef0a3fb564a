/**
 * How channel operations wait: spin briefly, then sleep (sync), or re-check
 * from the event loop (async).
 *
 * Why spin: on this 2-core VM a sleeping thread takes 20–60 µs to wake (the
 * idle vCPU halts), so a blocking read gave a Pipe round trip of 23–62 µs
 * (CPython's, which blocks, measures 42–47 µs here); retrying with
 * sched_yield for a few µs first gives 6–7 µs. A busy spin without yielding
 * was far worse (490 µs): the peer woken on the same CPU cannot run until the
 * spinner's time slice ends.
 */
import { forever, forkedSince } from "../inherited-wait.ts";
import { futexWait } from "../native/futex.ts";
import { yieldThread } from "../native/socket.ts";
import { waitForChange } from "../native/wake-on-change.ts";

/** Tries (each one system call + sched_yield) before a sync wait goes to sleep. */
export const SPIN_TRIES = 32;
/** Zero-delay turns of the event loop an async wait takes before it starts sleeping. */
const ASYNC_SPIN_TURNS = 64;
/** Longest pause between two checks of an async wait (ms). */
const MAX_PAUSE = 4;

/** Longest a blocking receive spins after sending (ms); see `receiveSpinMs`. */
const RECEIVE_SPIN_MAX_MS = 1;
const RECEIVE_SPIN_BASE_MS = 0.05;
/** About two copies of a byte at 4 GB/s: the peer taking it in, and its answer coming back. */
const RECEIVE_SPIN_PER_BYTE_MS = 0.5e-6;

/**
 * How long a blocking receive keeps spinning (beyond SPIN_TRIES) before it
 * sleeps, after its connection sent `sent` payload bytes since the last
 * receive: the peer has to take those in before it can answer, so the answer
 * to a big message comes later. Issue #18, point 12: SPIN_TRIES alone (a few
 * µs when the CPU is free) covers the echo of a 1 KiB message (6 µs) but not
 * of a 64 KiB one (about 40 µs of copying), which then paid a 20–60 µs
 * wake-up on top (115 µs a round trip against CPython's 55–84). Zero when
 * nothing was sent: a wait for a message that comes when it comes spins only
 * SPIN_TRIES.
 */
export function receiveSpinMs(sent: number): number {
  return sent === 0 ? 0 : Math.min(RECEIVE_SPIN_MAX_MS, RECEIVE_SPIN_BASE_MS + sent * RECEIVE_SPIN_PER_BYTE_MS);
}

/** Gives up the CPU for one spin step. */
export function spinStep(): void {
  yieldThread();
}

/** The absolute deadline of a timeout in ms (undefined: none). */
export function deadlineOf(timeout: number | undefined): number {
  return timeout === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeout;
}

/** Milliseconds left until `deadline` (undefined when there is none), never negative. */
export function timeLeft(deadline: number): number | undefined {
  return deadline === Number.POSITIVE_INFINITY ? undefined : Math.max(0, deadline - performance.now());
}

/**
 * Resolves true as soon as `ready()` returns true, or false once `deadline`
 * passed (after one last check). Never blocks the event loop: it re-checks on
 * the next turns of the loop, then with a growing pause up to MAX_PAUSE ms.
 */
export async function waitUntil(ready: () => boolean, deadline: number): Promise<boolean> {
  // TODO(#5): wake async waiters through the futex_waitv waker (native/wake-on-change.ts) instead of re-checking.
  const pid = process.pid;
  let pause = 0;
  for (let turns = 0; ; turns++) {
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (turns < ASYNC_SPIN_TURNS) await nextTurn();
    else {
      pause = Math.min(MAX_PAUSE, pause === 0 ? 0.25 : pause * 2);
      await Bun.sleep(Math.min(pause, left));
    }
    if (forkedSince(pid)) await forever; // ready() may take what is the parent's
  }
}

/** Longest futex sleep of a sync wait before it re-checks its condition (ms). */
export const SLICE_MS = 50;

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

/** Resolves on the next turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
