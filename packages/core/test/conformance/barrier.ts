/** Conformance: Barrier across children: indices, action, timeout, abort and reset. */
import { readFileSync, rmSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import { BrokenBarrierError, PicklingError } from "../../src/index.ts";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, type Suite, waitInChild } from "./harness.ts";

async function until(ready: () => boolean, timeout = CHILD_TIMEOUT): Promise<boolean> {
  const deadline = performance.now() + timeout;
  while (!ready()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(5);
  }
  return true;
}

export function barrierTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Barrier across children`, () => {
    test("Barrier(3): three rounds, distinct indices each round, the action once per round", async () => {
      const log = s.file("barrier-log");
      process.env.MULTIPROC_TEST_BARRIER_LOG = log;
      try {
        const rounds = 3;
        const barrier = mp.Barrier(3, targets.logBarrierRound);
        const indices = mp.RawArray("i", rounds * 3);
        indices.fill(-1);
        const kids = [false, true].map(
          (async, slot) =>
            new mp.Process({ target: targets.passBarrier, args: [barrier, indices, slot, rounds, async] }),
        );
        for (const k of kids) k.start();
        // The parent is the third party.
        await targets.passBarrier(barrier, indices, 2, rounds, true);
        for (const k of kids) await k.join(CHILD_TIMEOUT);
        expect(kids.map((k) => k.exitCode)).toEqual([0, 0]);
        for (let round = 0; round < rounds; round++) {
          expect(Array.from(indices.subarray(round * 3, round * 3 + 3)).sort()).toEqual([0, 1, 2]);
        }
        expect(readFileSync(log, "utf8").trim().split("\n")).toHaveLength(rounds);
        expect(barrier.nWaiting).toBe(0);
        expect(barrier.broken).toBe(false);
      } finally {
        delete process.env.MULTIPROC_TEST_BARRIER_LOG;
        rmSync(log, { force: true });
      }
    });

    for (const async of [false, true]) {
      test(`Barrier.abort() breaks a child's ${async ? "wait" : "waitSync"} with BrokenBarrierError; reset() mends it`, async () => {
        const barrier = mp.Barrier(2);
        const p = new mp.Process({ target: targets.waitExpectBroken, args: [barrier, async] });
        p.start();
        expect(await until(() => barrier.nWaiting === 1)).toBe(true);
        barrier.abort();
        expect(barrier.broken).toBe(true);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(5);
        expect(() => barrier.waitSync(10)).toThrow(BrokenBarrierError);
        barrier.reset();
        expect(barrier.broken).toBe(false);
        const q = new mp.Process({ target: targets.waitExpectBroken, args: [barrier, async] });
        q.start();
        expect(barrier.waitSync(CHILD_TIMEOUT)).toBeGreaterThanOrEqual(0);
        await q.join(CHILD_TIMEOUT);
        expect(q.exitCode).toBe(0);
      });
    }

    test("Barrier timeout: a party alone past the timeout breaks the barrier for all", async () => {
      const barrier = mp.Barrier(3, undefined, 150);
      const p = new mp.Process({ target: targets.waitExpectBroken, args: [barrier, false, "default"] });
      p.start();
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(5);
      expect(barrier.broken).toBe(true);
      await expect(barrier.wait(10)).rejects.toThrow(BrokenBarrierError);
    });

    test("Barrier.wait(-1) in a child breaks the barrier at once, as wait(0) does (CPython); the last party passes", async () => {
      for (const call of ["Barrier.waitSync", "Barrier.wait"] as const) {
        const barrier = mp.Barrier(2);
        const r = await waitInChild(s, call, barrier, -1);
        expect({ call, ...r, ms: 0 }).toEqual({
          call,
          error: "BrokenBarrierError: Barrier wait timed out; the barrier is now broken",
          ms: 0,
        });
        expect(r.ms).toBeLessThan(NO_WAIT_MS);
        expect(barrier.broken).toBe(true);
      }
      // A negative default timeout (the constructor's) means the same.
      const byDefault = mp.Barrier(2, undefined, -1);
      const r = await waitInChild(s, "Barrier.wait", byDefault, undefined);
      expect(r.error).toMatch(/^BrokenBarrierError/);
      // The party that completes a round never waits, whatever its timeout.
      expect(await waitInChild(s, "Barrier.waitSync", mp.Barrier(1), -1)).toMatchObject({ result: 0 });
      expect(() => mp.Barrier(2, undefined, Number.NaN)).toThrow(/Barrier timeout .*got NaN/);
      expect(() => mp.Barrier(2).waitSync(Number.NaN)).toThrow(/Barrier\.wait timeout .*got NaN/);
    });

    test.skipIf(s.caps.inheritsMemory)("Barrier with an unexported action cannot be sent to a child", () => {
      const barrier = mp.Barrier(2, () => undefined);
      const p = new mp.Process({ target: targets.waitExpectBroken, args: [barrier, false] });
      expect(() => p.start()).toThrow(PicklingError);
    });
  });
}
