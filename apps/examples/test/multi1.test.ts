import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";

const script = new URL("../src/multi1.ts", import.meta.url).pathname;

describe.each(getAllStartMethods())("multi1 on %s", (backend) => {
  test("prints the caller, one joined child, five children and the exit line", () => {
    const r = Bun.spawnSync([process.execPath, script, "--backend", backend], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
    const out = r.stdout.toString();
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const lines = out.trim().split("\n");
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
