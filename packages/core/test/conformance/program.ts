/** Conformance: whole programs run as users run them, with their output and exit behaviour checked. */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { alive, firstLine } from "../fixtures/child-processes.ts";
import { CHILD_TIMEOUT, type Suite } from "./harness.ts";

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

    test("a main module without the import.meta.main guard: the child's start() names the guard, nothing runs twice", () => {
      const r = runProgram("no-guard", [s.backend]);
      expect(r.exitCode).toBe(0);
      const out = r.stdout.toString();
      if (s.caps.inheritsMemory) {
        expect(out).toBe("child ran\njoined 0\n"); // fork does not import the program again
        return;
      }
      // Python's rule: the child fails in its bootstrapping phase, and says why; no grandchild is started.
      expect(out).toBe("joined 1\n");
      const err = r.stderr.toString();
      expect(err).toContain("ProcessError: Cannot start Process-1");
      expect(err).toContain("no-guard.ts to find its target");
      expect(err).toContain("if (import.meta.main)");
    });

    test("at exit, non-daemon children are joined and daemon children terminated", () => {
      const out = s.file("at-exit");
      const r = runProgram("at-exit", [s.backend, out]);
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ daemon: -15, slow: 0 });
    });

    /** Starts orphan.ts with a child of `kind`, SIGKILLs that parent once the child runs; returns the child's pid. */
    async function orphan(kind: "daemon" | "normal", out: string): Promise<number> {
      const parent = Bun.spawn([process.execPath, `${programs}orphan.ts`, s.backend, kind, out], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const pid = Number(/child (\d+)/.exec(await firstLine(parent.stdout))?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(true);
      parent.kill(9);
      await parent.exited;
      return pid;
    }

    /** Waits (bounded) until `pid` has ended. */
    async function ended(pid: number): Promise<boolean> {
      const deadline = performance.now() + CHILD_TIMEOUT;
      while (alive(pid) && performance.now() < deadline) await Bun.sleep(20);
      return !alive(pid);
    }

    test.skipIf(!s.caps.separateProcess)(
      "a daemon child whose parent is killed does not live on",
      async () => {
        const out = s.file("daemon-orphan");
        const pid = await orphan("daemon", out);
        expect(await ended(pid)).toBe(true);
        expect(existsSync(out)).toBe(false);
      },
      3 * CHILD_TIMEOUT,
    );

    test.skipIf(!s.caps.separateProcess)(
      "a non-daemon child whose parent is killed lives on, re-parented",
      async () => {
        const out = s.file("orphan");
        const pid = await orphan("normal", out);
        try {
          // It writes once it sees its new parent; a child that dies with its
          // parent gets its signal at that same moment (the kernel sends it while re-parenting).
          const deadline = performance.now() + CHILD_TIMEOUT;
          while (!existsSync(out) && alive(pid) && performance.now() < deadline) await Bun.sleep(20);
          expect(existsSync(out) ? readFileSync(out, "utf8") : "no report").toBe(`orphan ${pid}`);
          expect(alive(pid)).toBe(true);
        } finally {
          if (alive(pid)) process.kill(pid, "SIGKILL");
        }
        expect(await ended(pid)).toBe(true);
      },
      3 * CHILD_TIMEOUT,
    );
  });
}
