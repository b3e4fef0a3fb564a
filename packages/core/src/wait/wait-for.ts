/**
 * Python's `Condition.wait_for` loop, written once for the shared-memory
 * Condition and the manager's ConditionProxy: re-check the predicate after
 * each wake until it holds or the time is up.
 */
import { checkTimeout } from "../timeout.ts";

/** Waits with `wait(msLeft)` until `predicate()` is truthy or `timeout` ms pass; returns its last value. */
export function waitForSync<T>(wait: (ms?: number) => unknown, predicate: () => T, timeout?: number): T {
  const ms = checkTimeout(timeout, "Condition.waitFor");
  const deadline = ms === undefined ? undefined : performance.now() + ms;
  let result = predicate();
  while (!result) {
    const left = deadline === undefined ? undefined : deadline - performance.now();
    if (left !== undefined && left <= 0) break;
    wait(left);
    result = predicate();
  }
  return result;
}

/** The async form of `waitForSync`; the predicate may return a promise. */
export async function waitForAsync<T>(
  wait: (ms?: number) => Promise<unknown>,
  predicate: () => T | Promise<T>,
  timeout?: number,
): Promise<T> {
  const ms = checkTimeout(timeout, "Condition.waitFor");
  const deadline = ms === undefined ? undefined : performance.now() + ms;
  let result = await predicate();
  while (!result) {
    const left = deadline === undefined ? undefined : deadline - performance.now();
    if (left !== undefined && left <= 0) break;
    await wait(left);
    result = await predicate();
  }
  return result;
}
