/** Conformance: Condition shared with children: notify(n), notifyAll, waitFor, with both lock kinds. */
import { describe, expect, test } from "bun:test";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, type Suite, waitInChild } from "./harness.ts";

/** Polls `ready` until it holds or `timeout` ms pass; returns its last answer. */
async function until(ready: () => boolean, timeout = CHILD_TIMEOUT): Promise<boolean> {
  const deadline = performance.now() + timeout;
  while (!ready()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(5);
  }
  return true;
}

export function conditionTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Condition across children`, () => {
    for (const kind of ["RLock", "Lock"] as const) {
      test(`Condition(${kind}).notify(n) wakes exactly n waiters, notifyAll the rest`, async () => {
        const cond = mp.Condition(mp[kind]());
        const woken = mp.RawArray("i", 2);
        // Mixed forms: the sync and async waits share one slot table.
        const kids = [false, true, false, true].map(
          (async) => new mp.Process({ target: targets.waitOnCondition, args: [cond, woken, async] }),
        );
        for (const k of kids) k.start();
        expect(await until(() => Atomics.load(woken, 1) === 4)).toBe(true);
        // Once we hold the lock, every waiter that counted itself is inside wait().
        cond.acquireSync();
        cond.notify();
        cond.release();
        expect(await until(() => Atomics.load(woken, 0) === 1)).toBe(true);
        await Bun.sleep(150);
        expect(Atomics.load(woken, 0)).toBe(1);
        cond.acquireSync();
        cond.notify(2);
        cond.release();
        expect(await until(() => Atomics.load(woken, 0) === 3)).toBe(true);
        await Bun.sleep(150);
        expect(Atomics.load(woken, 0)).toBe(3);
        cond.acquireSync();
        cond.notifyAll();
        cond.release();
        for (const k of kids) await k.join(CHILD_TIMEOUT);
        expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0, 0]);
        expect(Atomics.load(woken, 0)).toBe(4);
      });
    }

    for (const async of [false, true]) {
      test(`Condition.notify(1) skips a waiter killed in ${async ? "wait" : "waitSync"} and wakes the live one`, async () => {
        const cond = mp.Condition();
        const woken = mp.RawArray("i", 2);
        const start = async (n: number) => {
          const p = new mp.Process({ target: targets.waitOnCondition, args: [cond, woken, async] });
          p.start();
          expect(await until(() => Atomics.load(woken, 1) === n)).toBe(true);
          // Once we hold the lock, the waiter that counted itself is inside wait().
          expect(await cond.acquire({ timeout: CHILD_TIMEOUT })).toBe(true);
          cond.release();
          return p;
        };
        const older = await start(1);
        const live = await start(2);
        try {
          older.kill();
          await older.join(CHILD_TIMEOUT);
          expect(older.exitCode).toBe(-9);
          cond.acquireSync();
          cond.notify(1);
          cond.release();
          expect(await until(() => Atomics.load(woken, 0) === 1)).toBe(true);
          await live.join(CHILD_TIMEOUT);
          expect(live.exitCode).toBe(0);
        } finally {
          live.kill();
          await live.join(CHILD_TIMEOUT);
        }
      });
    }

    for (const async of [false, true]) {
      test(`Condition.${async ? "waitFor" : "waitForSync"} in children sees the parent's changes`, async () => {
        const cond = mp.Condition();
        const state = mp.RawArray("i", 2);
        const p = new mp.Process({ target: targets.waitForGoal, args: [cond, state, 3, async] });
        p.start();
        for (let v = 1; v <= 3; v++) {
          await Bun.sleep(40);
          expect(Atomics.load(state, 1)).toBe(0);
          targets.setAndNotifyAll(cond, state, v);
        }
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        expect(Atomics.load(state, 1)).toBe(1);
      });
    }

    test("Condition.wait(-1) and waitFor(-1) in a child do not wait (Python: a negative timeout is 0)", async () => {
      const cond = mp.Condition();
      for (const call of ["Condition.waitSync", "Condition.wait", "Condition.waitForSync"] as const) {
        const r = await waitInChild(s, call, cond, -1);
        expect({ call, ...r, ms: 0 }).toEqual({ call, result: false, ms: 0 });
        expect(r.ms).toBeLessThan(NO_WAIT_MS);
      }
      cond.acquireSync();
      try {
        expect(() => cond.waitSync(Number.NaN)).toThrow(/Condition\.wait timeout .*got NaN/);
        expect(await cond.waitFor(() => 0, -3)).toBe(0);
      } finally {
        cond.release();
      }
    });

    test("Condition.waitFor in the parent sees a child's notifyAll", async () => {
      const cond = mp.Condition();
      const state = mp.RawArray("i", 2);
      const p = new mp.Process({ target: targets.setAndNotifyAll, args: [cond, state, 7] });
      await cond.acquire();
      p.start();
      try {
        expect(await cond.waitFor(() => Atomics.load(state, 0) === 7, CHILD_TIMEOUT)).toBe(true);
      } finally {
        cond.release();
      }
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
    });
  });
}
