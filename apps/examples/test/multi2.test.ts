import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";

const script = new URL("../src/multi2.ts", import.meta.url).pathname;

describe.each(getAllStartMethods())("multi2 on %s", (backend) => {
  test("the parent gets the list and the object; the talker gets the Set back as a Set", () => {
    const r = Bun.spawnSync([process.execPath, script, "--backend", backend], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
    // Only the library's own environment notices may appear on stderr (e.g. the fork backend's JSC settings).
    const stderr = r.stderr
      .toString()
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("multiproc: warning:"));
    expect(stderr).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().trim().split("\n")).toEqual([
      `[backend: ${backend}]`,
      "parent got: [ 'spam', 42, 'eggs' ]",
      "parent got: { name: 'Bob', spam: 42 }",
      "talker got: Set(4) { 'ss', 'pp', 'aa', 'mm' }",
      "parent exit",
    ]);
  });
});
