/**
 * Python's rule for the timeout of every library wait (`join`, `poll`,
 * `get`/`put`, `acquire`, `wait`, ...): undefined waits without a limit, a
 * number is milliseconds, and a negative number means "do not wait", as 0
 * does (CPython clamps it in `SemLock.acquire` and `connection.wait`).
 */

/**
 * The timeout a wait uses: undefined (no limit), or `timeout` ms with a
 * negative number read as 0.
 * @throws RangeError when `timeout` is NaN or not a number, naming the call and the value
 */
export function checkTimeout(timeout: number | undefined, what: string): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    const got = typeof timeout === "string" ? JSON.stringify(timeout) : String(timeout);
    throw new RangeError(
      `${what} timeout must be a number of milliseconds (negative: do not wait) or undefined, got ${got}`,
    );
  }
  return timeout < 0 ? 0 : timeout;
}
