/**
 * The spawn backend's own behaviour beyond the conformance suite: the spare
 * process (a `bun` started ahead of need, which has loaded core and waits for
 * its start message).
 */
import { describe, expect, test } from "bun:test";
import { alive, firstLine } from "../../core/test/fixtures/child-processes.ts";

const LIMIT = 20_000;
const PROGRAM = new URL("./fixtures/spare-program.ts", import.meta.url).pathname;
const PRELOAD = new URL("../../backend-fork/src/preload.ts", import.meta.url).pathname;

/** Runs spare-program.ts in `mode`; its first line of output. */
function runProgram(mode: string, env: Record<string, string> = {}): string {
  const r = Bun.spawnSync([process.execPath, "--preload", PRELOAD, PROGRAM, mode], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "inherit",
    timeout: LIMIT,
  });
  return r.stdout.toString().trim();
}

describe("[spawn] the spare process", () => {
  test("children that ended leave one process, the spare made for the next start()", () => {
    expect(runProgram("count")).toBe("1");
  });

  test("MULTIPROC_SPARE=0: children that ended leave no process", () => {
    expect(runProgram("count", { MULTIPROC_SPARE: "0" })).toBe("0");
  });

  test("the spare ends when the program that made it is killed", async () => {
    const program = Bun.spawn([process.execPath, PROGRAM, "orphan"], { stdout: "pipe", stderr: "inherit" });
    const pid = Number(/spare (\d+)/.exec(await firstLine(program.stdout))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    program.kill(9);
    await program.exited;
    const deadline = performance.now() + 5000;
    while (alive(pid) && performance.now() < deadline) await Bun.sleep(20);
    expect(alive(pid)).toBe(false);
  });

  test("a spare killed from outside is replaced; a child it was given ends -9, as one killed at its start", () => {
    // The kill may land after the spare was looked at: the first child then reports -9, never a hang.
    const [first, second] = JSON.parse(runProgram("killed")) as (number | null)[];
    expect([5, -9]).toContain(first ?? 0);
    expect(second).toBe(5);
  });

  test("a spare loads core's public entry ahead of its child, and the target gets the same classes: arguments are instances of what it imports", () => {
    expect(JSON.parse(runProgram("identity"))).toEqual({
      exitCode: 0,
      report: { coreLoadedFirst: true, connection: true, lock: true, entries: 1 },
    });
  });

  test("a fork child does not take its parent's spare: its own spawn child runs, and join() sees it end", () => {
    expect(runProgram("fork")).toBe("7");
  });
});
