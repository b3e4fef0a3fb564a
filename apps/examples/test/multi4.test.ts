import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";

describe.each(getAllStartMethods())("multi4 on %s", (backend) => {
  test("three counters post nine items; the parent polls, gets them all and joins", () => {
    const lines = runExample("multi4", backend);
    expect(lines[0]).toBe(`[backend: ${backend}]`);
    const parent = Number(/^start (\d+)$/.exec(lines[1]!)?.[1]);
    expect(parent).toBeGreaterThan(0);
    expect(lines.at(-1)).toBe(`finish ${parent} 0`);

    const counts = lines.filter((l) => /^@ \d+ \d+$/.test(l)).map((l) => l.split(" ").map(Number));
    const dashes = lines.filter((l) => /^@ \d+ -$/.test(l));
    const posted = lines
      .filter((l) => l.startsWith("posted: "))
      .map((l) => /^posted: \[(\d+), (\d+)\]$/.exec(l)!.slice(1).map(Number));
    expect(counts.map(([, , state]) => state).sort((a, b) => a! - b!)).toEqual([
      1, 2, 3, 101, 102, 103, 1001, 1002, 1003,
    ]);
    expect(dashes).toHaveLength(3);
    // Every item printed by a counter is posted once, with the counter's pid.
    expect(posted.map(([pid, state]) => `${pid} ${state}`).sort()).toEqual(
      counts.map(([, pid, state]) => `${pid} ${state}`).sort(),
    );
    // Each counter's items arrive in its order.
    for (const base of [0, 100, 1000]) {
      const mine = posted.map(([, s]) => s!).filter((s) => s > base && s <= base + 3);
      expect(mine).toEqual([base + 1, base + 2, base + 3]);
    }
    expect(lines.some((l) => l === "no data...")).toBe(true);
    const pids = new Set(counts.map(([, pid]) => pid));
    if (backend === "worker") expect(pids).toEqual(new Set([parent]));
    else {
      expect(pids.size).toBe(3);
      expect(pids.has(parent)).toBe(false);
    }
  });
});
