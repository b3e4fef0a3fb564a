/** Conformance: whole programs run as users run them, with their output and exit behaviour checked. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { alive, firstLine } from "../fixtures/child-processes.ts";
import { CHILD_TIMEOUT, type Suite } from "./_harness.ts";

const programs = new URL("../fixtures/programs/", import.meta.url).pathname;

function runProgram(name: string, args: string[]) {
  return Bun.spawnSync([process.execPath, `${programs}${name}.ts`, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: CHILD_TIMEOUT,
  });
}

export function programTests(s: Suite): void {
  describe(`[${s.backend}] programs`, () => {
    test("an uncaught error in a child prints its stack on stderr and gives exit code 1", () => {
      const r = runProgram("crash", [s.backend]);
      expect(r.stdout.toString()).toContain("exitCode=1");
      const err = r.stderr.toString();
      expect(err).toMatch(/^Process Process-1:/m);
      expect(err).toContain("Error: child failed on purpose");
      expect(err).toMatch(/at crash \(.*targets\.ts:\d+/);
    });

    test("the main module's import.meta.main block does not run again in the child", () => {
      const r = runProgram("main-guard", [s.backend]);
      const lines = r.stdout.toString().trim().split("\n");
      expect(r.exitCode).toBe(0);
      if (s.caps.inheritsMemory) {
        expect(lines).toEqual(["imported main=true", "child ran", "joined 0"]);
      } else {
        expect(lines).toEqual(["imported main=true", "imported main=false", "child ran", "joined 0"]);
      }
    });

    test("at exit, non-daemon children are joined and daemon children terminated", () => {
      const out = s.file("at-exit");
      const r = runProgram("at-exit", [s.backend, out]);
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ daemon: -15, slow: 0 });
    });

    test.skipIf(!s.caps.separateProcess)("a child whose parent is killed does not live on", async () => {
      for (const kind of ["daemon", "normal"]) {
        const parent = Bun.spawn([process.execPath, `${programs}orphan.ts`, s.backend, kind], {
          stdout: "pipe",
          stderr: "inherit",
        });
        const pid = Number(/child (\d+)/.exec(await firstLine(parent.stdout))?.[1]);
        expect(pid).toBeGreaterThan(0);
        expect(alive(pid)).toBe(true);
        parent.kill(9);
        await parent.exited;
        const deadline = performance.now() + 5000;
        while (alive(pid) && performance.now() < deadline) await Bun.sleep(20);
        expect(alive(pid)).toBe(false);
      }
    });
  });
}
