/** Runs one reference program on one backend, as a user would, and checks it ended cleanly. */
import { expect } from "bun:test";
import type { BackendName } from "@multiproc/core";

/**
 * Runs `bun src/<program>.ts --backend <backend>` (bounded in time), requires
 * exit code 0 and an empty stderr (but for the library's own environment
 * notices, e.g. the fork backend's JSC settings), and returns the stdout lines.
 */
export function runExample(program: string, backend: BackendName): string[] {
  const script = new URL(`../src/${program}.ts`, import.meta.url).pathname;
  const r = Bun.spawnSync([process.execPath, script, "--backend", backend], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const stderr = r.stderr
    .toString()
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("multiproc: warning:"));
  expect(stderr).toEqual([]);
  expect(r.exitCode).toBe(0);
  return r.stdout.toString().trim().split("\n");
}
