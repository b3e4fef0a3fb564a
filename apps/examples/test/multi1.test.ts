import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";

describe.each(getAllStartMethods())("multi1 on %s", (backend) => {
  test("prints the caller, one joined child, five children and the exit line", () => {
    const lines = runExample("multi1", backend);
    expect(lines[0]).toBe(`[backend: ${backend}]`);
    const parentPid = Number(/^function call: name:multi1, pid:(\d+)$/.exec(lines[1]!)?.[1]);
    expect(parentPid).toBeGreaterThan(0);
    expect(lines[2]).toMatch(/^spawned child: name:multi1, pid:\d+/);
    const runs = lines.filter((l) => l.startsWith("run process "));
    expect(runs.map((l) => l.slice(0, 13)).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `run process ${i}`));
    expect(lines.filter((l) => l === "Main process exit.")).toHaveLength(1);
    expect(lines).toHaveLength(9);
    const pids = runs.map((l) => Number(/pid:(\d+)/.exec(l)?.[1]));
    if (backend === "worker") {
      expect(new Set(pids)).toEqual(new Set([parentPid]));
    } else {
      expect(new Set(pids).size).toBe(5);
      expect(pids).not.toContain(parentPid);
    }
  });
});
