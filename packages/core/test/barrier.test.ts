import { describe, expect, test } from "bun:test";
import { Barrier, BrokenBarrierError } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";

describe("Barrier (one process)", () => {
  test("Barrier(3).wait() gives each party a distinct index and runs the action once per round", async () => {
    let actions = 0;
    const b = Barrier(3, () => {
      actions++;
    });
    expect(b.parties).toBe(3);
    for (let round = 0; round < 3; round++) {
      const parties = [b.wait(5000), b.wait(5000)];
      await Bun.sleep(10);
      expect(b.nWaiting).toBe(2);
      parties.push(b.wait(5000));
      expect((await Promise.all(parties)).sort()).toEqual([0, 1, 2]);
    }
    expect(actions).toBe(3);
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
  });

  test("Barrier(1).waitSync() completes each round alone", () => {
    const b = Barrier(1);
    expect(b.waitSync()).toBe(0);
    expect(b.waitSync()).toBe(0);
  });

  test("Barrier: an async action is awaited before the round is released", async () => {
    const log: string[] = [];
    const b = Barrier(2, async () => {
      await Bun.sleep(20);
      log.push("action");
    });
    await Promise.all([b.wait(5000).then(() => log.push("a")), b.wait(5000).then(() => log.push("b"))]);
    expect(log[0]).toBe("action");
  });

  test("Barrier timeout breaks the barrier: every party gets BrokenBarrierError until reset()", async () => {
    const b = Barrier(3, undefined, 50);
    const other = b.wait(5000).catch((e: unknown) => e);
    await expect(b.wait()).rejects.toThrow(BrokenBarrierError);
    expect(await other).toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(true);
    expect(() => b.waitSync(10)).toThrow(BrokenBarrierError);
    b.reset();
    expect(b.broken).toBe(false);
    const again = [b.wait(5000), b.wait(5000), b.wait(5000)];
    expect((await Promise.all(again)).sort()).toEqual([0, 1, 2]);
  });

  test("Barrier.abort() and reset() break the parties waiting now", async () => {
    const b = Barrier(2);
    const waiting = b.wait(5000).catch((e: unknown) => e);
    await Bun.sleep(10);
    b.abort();
    expect(await waiting).toBeInstanceOf(BrokenBarrierError);
    b.reset();
    const waiting2 = b.wait(5000).catch((e: unknown) => e);
    await Bun.sleep(10);
    b.reset(); // with a party inside: it is broken out, the barrier is usable afterwards
    expect(await waiting2).toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(false);
    const both = [b.wait(5000), b.wait(5000)];
    expect((await Promise.all(both)).sort()).toEqual([0, 1]);
  });

  test("Barrier: an action that throws breaks the barrier and reaches the party that ran it", async () => {
    const b = Barrier(2, () => {
      throw new Error("action failed");
    });
    const first = b.wait(5000).catch((e: unknown) => e);
    await expect(b.wait(5000)).rejects.toThrow("action failed");
    expect(await first).toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(true);
  });

  test("Barrier refuses bad arguments", () => {
    expect(() => Barrier(0)).toThrow(RangeError);
    expect(() => Barrier(1.5)).toThrow(/integer >= 1/);
    expect(() => Barrier(2, "x" as unknown as () => void)).toThrow(TypeError);
    expect(() => Barrier(2, undefined, Number.NaN)).toThrow(RangeError);
  });

  test("Barrier travels through the codec with its parties, timeout and state", async () => {
    const b = Barrier(2, undefined, 5000);
    const b2 = loads(dumps(b)) as typeof b;
    expect(b2.parties).toBe(2);
    const [i, j] = await Promise.all([b.wait(), b2.wait()]);
    expect([i, j].sort()).toEqual([0, 1]);
    b2.abort();
    expect(b.broken).toBe(true);
  });
});
