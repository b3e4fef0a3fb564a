/**
 * Conformance: Value and RawValue shared with children (every typecode, the
 * lock, bigint kinds), and that no shared memory outlives its processes.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import { firstLine } from "../fixtures/child-processes.ts";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, readJson, run, type Suite } from "./harness.ts";

const programs = new URL("../fixtures/programs/", import.meta.url).pathname;

/** Every "pid:fd" or "pid:maps" still holding one of `inodes` (a memfd segment), over all processes we can read. */
function holdersOf(inodes: Set<number>): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
        const f = line.split(/\s+/);
        if (f[5]?.startsWith("/memfd:") && inodes.has(Number(f[4]))) found.push(`${pid}:maps`);
      }
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const path = `/proc/${pid}/fd/${fd}`;
        if (readlinkSync(path).startsWith("/memfd:") && inodes.has(statSync(path).ino)) found.push(`${pid}:fd${fd}`);
      }
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return found;
}

async function noHolders(inodes: Set<number>, timeout = 10_000): Promise<string[]> {
  const deadline = performance.now() + timeout;
  let left = holdersOf(inodes);
  while (left.length > 0 && performance.now() < deadline) {
    await Bun.sleep(50);
    left = holdersOf(inodes);
  }
  return left;
}

export function valueTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Value across children`, () => {
    test("Value: 4 children x 500 increments under getLock() give exactly 2000", async () => {
      const v = mp.Value("i", 0);
      const kids = Array.from({ length: 4 }, () => new mp.Process({ target: targets.incrementValue, args: [v, 500] }));
      for (const k of kids) k.start();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0, 0]);
      expect(v.value).toBe(2000);
    });

    test("Value with a given RLock shares it with an Array: one lock guards both", async () => {
      // An RLock: `v.value` takes the lock again inside getLock()'s hold (a Lock would deadlock, as in Python).
      const lock = mp.RLock();
      const v = mp.Value("i", 0, { lock });
      const a = mp.Array("i", 2, { lock });
      expect(v.getLock()).toBe(lock);
      expect(a.getLock()).toBe(lock);
      const kids = [
        new mp.Process({ target: targets.incrementValue, args: [v, 300] }),
        new mp.Process({ target: targets.incrementArray, args: [a, 300] }),
        new mp.Process({ target: targets.incrementValue, args: [v, 300] }),
      ];
      for (const k of kids) k.start();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0]);
      expect(v.value).toBe(600);
      expect(Array.from(a)).toEqual([300, 300]);
    });

    test("Value/RawValue: a child sees every typecode's value, and the parent sees the child's writes", async () => {
      const cases: [Parameters<typeof mp.Value>[0], number | bigint, string][] = [
        ["b", -128, "-128"],
        ["B", 255, "255"],
        ["h", -32768, "-32768"],
        ["H", 65535, "65535"],
        ["i", -(2 ** 31), String(-(2 ** 31))],
        ["I", 2 ** 32 - 1, String(2 ** 32 - 1)],
        ["l", -(2n ** 63n), String(-(2n ** 63n))],
        ["L", 2n ** 64n - 1n, String(2n ** 64n - 1n)],
        ["q", 2n ** 62n, String(2n ** 62n)],
        ["Q", 12345678901234567890n, "12345678901234567890"],
        ["f", 0.5, "0.5"],
        ["d", Math.PI, String(Math.PI)],
        ["c", 65, "65"],
      ];
      const chars = mp.Array("c", "héllo");
      for (const [code, initial, shown] of cases) {
        const out = s.file(`value-${code}`);
        const v = code === "c" ? mp.RawValue(code, initial as number) : mp.Value(code, initial as never);
        const p = await run(
          new mp.Process({ target: targets.reportShared, args: [out, v, mp.RawArray(code, 2), chars] }),
        );
        expect(p.exitCode).toBe(0);
        const r = readJson<{ typecode: string; value: string; array: string[]; chars: string }>(out);
        expect(r).toMatchObject({ typecode: code, value: shown, chars: "héllo" });
        expect(r.array).toEqual(["0", "0"]);
      }
      const big = mp.RawValue("q", 0n);
      const arr = mp.RawArray("d", 4);
      const f = mp.RawValue("f", 0);
      expect((await run(new mp.Process({ target: targets.writeShared, args: [big, arr, f] }))).exitCode).toBe(0);
      expect(big.value).toBe(-(2n ** 62n));
      expect(Array.from(arr)).toEqual([0, 1.5, 3, 4.5]);
      expect(f.value).toBe(0.25);
    });
  });

  describe(`[${s.backend}] shared memory leaves nothing behind`, () => {
    // CPython's own semaphores and segments (other programs on the machine, e.g. the benchmarks) are not ours.
    const shmBefore = () =>
      new Set(readdirSync("/dev/shm").filter((n) => !n.startsWith("sem.mp-") && !n.startsWith("psm_")));

    for (const mode of ["exit", "kill-child", "wait"] as const) {
      const how = { exit: "a normal exit", "kill-child": "a child is SIGKILLed", wait: "the parent is SIGKILLed" }[
        mode
      ];
      test(`after ${how}, no process maps or holds the program's segments and /dev/shm is unchanged`, async () => {
        const shm = shmBefore();
        const program = Bun.spawn([process.execPath, `${programs}shared-leak.ts`, s.backend, mode], {
          stdout: "pipe",
          stderr: "inherit",
        });
        const report = JSON.parse(await firstLine(program.stdout)) as {
          pid: number;
          children: number[];
          inodes: number[];
        };
        const inodes = new Set(report.inodes);
        expect(inodes.size).toBeGreaterThan(0);
        if (mode === "wait") {
          // While it runs, the program maps the segments.
          const holders = holdersOf(inodes);
          expect(holders.some((h) => h.startsWith(`${report.pid}:`))).toBe(true);
          // ...and so do its children, when they are processes of their own.
          if (s.caps.separateProcess) {
            for (const child of report.children) expect(holders.some((h) => h.startsWith(`${child}:`))).toBe(true);
          }
          program.kill(9);
        }
        const timer = setTimeout(() => program.kill(9), CHILD_TIMEOUT);
        await program.exited;
        clearTimeout(timer);
        if (mode !== "wait") expect(program.exitCode).toBe(0);
        expect(await noHolders(inodes)).toEqual([]);
        expect([...shmBefore()].filter((name) => !shm.has(name))).toEqual([]);
      });
    }
  });
}
