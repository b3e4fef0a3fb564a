/** The short waits before a wait sleeps: a yield of the CPU (sync), a turn of the event loop (async). */
import { yieldThread } from "../native/thread.ts";
import { CONTENDED_YIELD_MS, SPIN_TRIES } from "./tuning.ts";

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

/**
 * Gives up the CPU for one spin step. Returns whether the CPU looked free:
 * the yield came back within CONTENDED_YIELD_MS. When it did not, other
 * threads are waiting for this CPU, and a waiter that keeps spinning only
 * lengthens its own wait: one that sleeps in the kernel is woken (and
 * scheduled) as soon as its data comes.
 */
export function spinStep(): boolean {
  const before = performance.now();
  yieldThread();
  return performance.now() - before < CONTENDED_YIELD_MS;
}

/**
 * Before a blocking wait sleeps in the kernel: up to SPIN_TRIES yields, until
 * `attempt()` gives something (returned), `deadline` or a contended CPU
 * (then undefined). A peer's answer usually comes within a few µs, while a
 * thread asleep in the kernel takes tens to wake (an auth key handshake has
 * three such waits per side: sleeping through them, an accept took
 * 190-220 µs against CPython's 170).
 */
export function spinFor<T>(attempt: () => T | undefined, deadline: number): T | undefined {
  for (let tries = 0; tries < SPIN_TRIES; tries++) {
    const got = attempt();
    if (got !== undefined) return got;
    if (performance.now() >= deadline || !spinStep()) break;
  }
  return attempt();
}

/** Resolves on the next turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
