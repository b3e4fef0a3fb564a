/**
 * The shared-state story that multi3 (Value and Array) and multi5 (a manager
 * dict and Lock) both tell: the same lines, the same exact end line.
 */
import { expect } from "bun:test";
import type { BackendName } from "@multiproc/core";

/** "label: pid:N[, thread:T], global:G, value:V, array:[...]" split into its fields. */
function parse(line: string) {
  const m = /^(.{12}): pid:(\d+)(?:, thread:(\d+))?, global:(\d+), value:(\d+), array:\[(.*)\]$/.exec(line);
  if (m === null) throw new Error(`Unexpected line: ${line}`);
  return {
    label: m[1]!.trim(),
    pid: Number(m[2]),
    thread: m[3],
    global: Number(m[4]),
    value: Number(m[5]),
    array: m[6]!,
  };
}

/** Checks the printed lines of multi3 or multi5 run on `backend`. */
export function expectSharedStateStory(lines: string[], backend: BackendName): void {
  expect(lines[0]).toBe(`[backend: ${backend}]`);
  expect(lines.at(-1)).toMatch(/^parent end {2}: pid:\d+, global:6, value:12, array:\[8, 8, 8\]$/);
  const rows = lines.filter((l) => l.includes(": pid:")).map(parse);
  expect(rows.map((x) => x.label)).toEqual([
    "parent start",
    "child",
    "process 0",
    "process 1",
    "process 2",
    ...["process 0", "process 1", "process 2"].map(() => expect.stringMatching(/^process [012]$/)),
    "parent temp",
    "parent end",
  ]);
  const parent = rows[0]!;
  expect(parent).toMatchObject({ global: 0, value: 0, array: "0, 0, 0" });
  expect(rows.at(-2)).toMatchObject({ pid: parent.pid, global: 6, value: 9, array: "5, 5, 5" });
  // loop1: each serial child sees the parent's updates so far.
  expect(rows.slice(2, 5).map((x) => [x.value, x.array])).toEqual([
    [1, "1, 0, 0"],
    [2, "1, 1, 0"],
    [3, "1, 1, 1"],
  ]);
  // loop2: the parallel children share memory, so they see values from 4 to 6.
  for (const x of rows.slice(5, 8)) expect(x.value).toBeGreaterThanOrEqual(4);
  const children = rows.slice(1, 8);
  if (backend === "fork") {
    // A fork child copies the parent's globals at start().
    expect(children.slice(0, 4).map((x) => x.global)).toEqual([0, 1, 2, 3]);
    expect(
      children
        .slice(4)
        .map((x) => x.global)
        .sort(),
    ).toEqual([4, 5, 6]);
  } else {
    // spawn and worker re-import the module: the import-time value.
    expect(children.map((x) => x.global)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  }
  if (backend === "worker") {
    expect(new Set(children.map((x) => x.pid))).toEqual(new Set([parent.pid]));
    expect(children.every((x) => x.thread !== undefined)).toBe(true);
  } else {
    expect(children.map((x) => x.pid)).not.toContain(parent.pid);
  }
}
