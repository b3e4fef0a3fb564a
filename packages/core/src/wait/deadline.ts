/** Deadlines of library waits: absolute times in `performance.now()` ms, `Infinity` for none. */

/** The absolute deadline of a timeout in ms (undefined: none). */
export function deadlineOf(timeout: number | undefined): number {
  return timeout === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeout;
}

/** Milliseconds left until `deadline` (undefined when there is none), never negative. */
export function timeLeft(deadline: number): number | undefined {
  return deadline === Number.POSITIVE_INFINITY ? undefined : Math.max(0, deadline - performance.now());
}
