/** Conformance: shared typed arrays (Array, RawArray) sent to children. */
import { describe, expect, test } from "bun:test";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, readJson, run, type Suite } from "./harness.ts";

export function arrayTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Array across children`, () => {
    test("Array: 3 children x 200 locked rounds of a[j] += 1 give exactly 600 in every slot", async () => {
      const a = mp.Array("i", [0, 10, 20]);
      const kids = Array.from({ length: 3 }, () => new mp.Process({ target: targets.incrementArray, args: [a, 200] }));
      for (const k of kids) k.start();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0]);
      expect(Array.from(a)).toEqual([600, 610, 620]);
    });

    test("Array arrives in a child as a typed array over the same memory, with its lock; RawArray without", async () => {
      const a = mp.Array("d", [0.5, 1.5, 2.5]);
      const out = s.file("array");
      const chars = mp.RawArray("c", "abc");
      const v = mp.Value("i", 3);
      expect((await run(new mp.Process({ target: targets.reportShared, args: [out, v, a, chars] }))).exitCode).toBe(0);
      expect(readJson(out)).toMatchObject({
        value: "3",
        array: ["0.5", "1.5", "2.5"],
        arrayIsTyped: true,
        hasLock: true,
        chars: "abc",
      });
      const raw = mp.RawArray("h", [-1, 2]);
      expect((await run(new mp.Process({ target: targets.reportShared, args: [out, v, raw, chars] }))).exitCode).toBe(
        0,
      );
      expect(readJson(out)).toMatchObject({ array: ["-1", "2"], arrayIsTyped: true, hasLock: false });
    });

    test("Array: the child's writes are the parent's memory (floats and bigints)", async () => {
      const big = mp.RawValue("q", 0n);
      const arr = mp.Array("d", 4);
      const f = mp.RawValue("f", 1);
      const p = await run(new mp.Process({ target: targets.writeShared, args: [big, arr, f] }));
      expect(p.exitCode).toBe(0);
      expect(Array.from(arr)).toEqual([0, 1.5, 3, 4.5]);
      expect(arr).toBeInstanceOf(Float64Array);
    });
  });
}
