/**
 * The worker backend's own behaviour beyond the conformance suite: stopping
 * workers blocked in native waits, exit codes, joins from inside workers,
 * locks shared among workers, the sentinel.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { activeChildren, EOFError, getContext, type Process, type Value } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import "../src/index.ts";
import { spare } from "../src/spare.ts";
import * as targets from "./fixtures/targets.ts";
import * as lean from "../../core/test/fixtures/lean-targets.ts";
import { memfdMappings, openFds } from "../../core/test/fixtures/os-resources.ts";

const LIMIT = 20_000;
const mp = getContext("worker");
const dir = mkdtempSync(join(tmpdir(), "multiproc-worker-"));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  const live = activeChildren();
  for (const p of live) p.kill();
  if (live.length > 0) throw new Error(`Leaked ${live.length} live children: ${live.map(String).join(", ")}`);
});

/**
 * Descriptors and memfd mappings of the process, counted without the spare
 * Worker (whether it exists and is ready yet depends on timing) and once the
 * threads of joined children are gone: join() returns when a child's program
 * has ended, and its thread then still holds its event loop's descriptors
 * for a few milliseconds.
 */
function resources(): { fds: number; maps: number } {
  spare.dismiss();
  const deadline = performance.now() + LIMIT;
  // One thread stays: the supervisor (supervisor.ts), made with the first worker child.
  while (native.workerThreadCount() > 1 && performance.now() < deadline) Bun.sleepSync(5);
  return { fds: openFds(), maps: memfdMappings() };
}

/** Starts a child whose target sets `started` and then blocks; resolves once it has set it. */
async function startBlocked(
  target: (...a: never[]) => unknown,
  args: unknown[],
  started = mp.Event(),
): Promise<Process> {
  const p = new mp.Process({ target: target as (...a: unknown[]) => unknown, args: [...args, started] });
  p.start();
  expect(await started.wait(LIMIT)).toBe(true);
  await Bun.sleep(50); // from set() into the blocking call
  expect(p.isAlive()).toBe(true);
  return p;
}

describe("[worker] stopping a worker that is blocked", () => {
  for (const [how, code] of [
    ["terminate", -15],
    ["kill", -9],
  ] as const) {
    test(`Process.${how}() ends a worker blocked in Lock.acquireSync with exitCode ${code}`, async () => {
      const lock = mp.Lock();
      lock.acquireSync();
      const p = await startBlocked(targets.blockOnLock, [lock]);
      p[how]();
      await p.join(LIMIT);
      expect(p.exitCode).toBe(code);
      lock.release();
      // The lock still works for everyone else.
      expect(lock.acquireSync({ timeout: 1000 })).toBe(true);
      lock.release();
    });

    test(`Process.${how}() ends a worker blocked in Event.waitSync with exitCode ${code}`, async () => {
      const p = await startBlocked(targets.blockOnEvent, [mp.Event()]);
      p[how]();
      await p.join(LIMIT);
      expect(p.exitCode).toBe(code);
    });

    const holders = [
      ["blocked in a native wait", targets.holdWhileBlocked, () => [mp.Event()]],
      ["idle in async code", targets.holdWhileIdle, () => []],
    ] as const;
    for (const [state, target, more] of holders) {
      test(`Process.${how}() of a worker ${state} closes its descriptors: the peer sees EOF`, async () => {
        const [mine, theirs] = mp.Pipe();
        const p = await startBlocked(target, [theirs, ...more()]);
        theirs.close();
        p[how]();
        await p.join(LIMIT);
        expect(p.exitCode).toBe(code);
        expect(mine.poll(LIMIT)).toBe(true);
        await expect(mine.recv()).rejects.toThrow(EOFError);
        mine.close();
      });
    }

    for (const [call, target] of [
      ["Connection.recvSync", targets.blockOnRecv],
      ["Connection.sendBytes to a full pipe", targets.blockOnSend],
    ] as const) {
      test(`Process.${how}() ends a worker blocked in ${call} with exitCode ${code}`, async () => {
        const [mine, theirs] = mp.Pipe();
        const p = await startBlocked(target, [theirs]);
        p[how]();
        await p.join(LIMIT);
        expect(p.exitCode).toBe(code);
        mine.close();
        theirs.close();
      });
    }

    test(`Process.${how}() ends a worker asleep in poll(2) with exitCode ${code}`, async () => {
      const p = await startBlocked(targets.blockInPoll, []);
      p[how]();
      await p.join(LIMIT);
      expect(p.exitCode).toBe(code);
    });

    test(`Process.${how}() ends a worker in a busy loop with exitCode ${code} (joinSync)`, async () => {
      const p = await startBlocked(targets.busyLoop, []);
      p[how]();
      p.joinSync(LIMIT);
      expect(p.exitCode).toBe(code);
    });

    test(`Process.${how}() ends a worker blocked in joinSync on its own child`, async () => {
      const p = await startBlocked(targets.blockInJoinSync, []);
      p[how]();
      await p.join(LIMIT);
      expect(p.exitCode).toBe(code);
    });

    test(`Process.${how}() right after start() ends the worker before it runs`, () => {
      const out = join(dir, `never-${how}.json`);
      const p = new mp.Process({ target: targets.reportIdentity, args: [out] });
      p.start();
      p[how]();
      p.joinSync(LIMIT);
      expect(p.exitCode).toBe(code);
      expect(() => readFileSync(out)).toThrow();
    });
  }

  test("Process.terminate() after the worker ended keeps its exit code", async () => {
    const p = new mp.Process({ target: targets.exitWith, args: [5] });
    p.start();
    await p.join(LIMIT);
    p.terminate();
    expect(p.exitCode).toBe(5);
  });
});

describe("[worker] exit codes", () => {
  test("process.exit(n) in a worker ends only that worker, with exitCode n", async () => {
    const quick = new mp.Process({ target: targets.exitWith, args: [7] });
    const slow = new mp.Process({ target: targets.sleepFor, args: [200] });
    slow.start();
    quick.start();
    await quick.join(LIMIT);
    expect(quick.exitCode).toBe(7);
    expect(slow.isAlive()).toBe(true);
    await slow.join(LIMIT);
    expect(slow.exitCode).toBe(0);
  });

  test("an error thrown from a timer while the target waits gives exitCode 1 at once", async () => {
    const p = new mp.Process({ target: targets.throwFromTimer });
    p.start();
    await p.join(LIMIT);
    expect(p.exitCode).toBe(1);
  });

  for (const how of ["join", "joinSync"] as const) {
    test(`Process.${how}() returns after the child's last "exit" listener ran, not before`, async () => {
      const out = join(dir, `exit-listener-${how}.txt`);
      const p = new mp.Process({ target: targets.slowExitListener, args: [out, 100] });
      p.start();
      if (how === "join") await p.join(LIMIT);
      else p.joinSync(LIMIT);
      expect(p.exitCode).toBe(0);
      expect(readFileSync(out, "utf8")).toBe("done");
    });
  }

  test("process.exit(n) keeps the low 8 bits, as for a process", async () => {
    const p = new mp.Process({ target: targets.exitWith, args: [300] });
    p.start();
    p.joinSync(LIMIT);
    expect(p.exitCode).toBe(300 & 0xff);
  });
});

describe("[worker] joins and identity", () => {
  const pairs = [
    ["worker", "worker"],
    ["worker", "spawn"],
    ["spawn", "worker"],
  ] as const;
  for (const [outer, inner] of pairs) {
    for (const how of ["join", "joinSync"] as const) {
      test(`Process.${how}() works inside a ${outer} child, on a ${inner} child of its own`, async () => {
        const p = new (getContext(outer).Process)({ target: targets.joinGrandchild, args: [inner, how, 6] });
        p.start();
        await p.join(LIMIT);
        expect(p.exitCode).toBe(6);
      });
    }
  }

  test("a worker's currentProcess() has the shared pid, and its module is not the main module", async () => {
    const out = join(dir, "identity.json");
    const p = new mp.Process({ target: targets.reportIdentity, args: [out], name: "who" });
    p.start();
    await p.join(LIMIT);
    expect(p.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({
      name: "who",
      pid: process.pid,
      processPid: process.pid,
      main: false,
    });
  });

  test("a spare loads core's public entry ahead of its child, and the target gets the same classes: arguments are instances of what it imports", async () => {
    const first = new mp.Process({ target: targets.reportIdentity, args: [join(dir, "identity-first.json")] });
    first.start();
    await first.join(LIMIT);
    await Bun.sleep(500); // the spare made at its end gets ready and loads core's public entry
    const out = join(dir, "class-identity.json");
    const [mine, theirs] = mp.Pipe();
    const p = new mp.Process({ target: targets.reportClassIdentity, args: [out, theirs, mp.Lock()] });
    p.start();
    theirs.close();
    await p.join(LIMIT);
    mine.close();
    expect(p.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({
      coreLoadedFirst: true,
      connection: true,
      lock: true,
      entries: 1,
    });
  });

  test("Process.sentinel becomes readable when the worker ends, not before", async () => {
    const p = new mp.Process({ target: targets.sleepFor, args: [150] });
    p.start();
    const fd = p.sentinel;
    expect(typeof fd).toBe("number");
    expect(native.pollReadable(fd!, 0)).toBe(false);
    expect(native.pollReadable(fd!, LIMIT)).toBe(true);
    p.joinSync(LIMIT);
    expect(p.exitCode).toBe(0);
    p.close();
  });
});

describe("[worker] the spare Worker", () => {
  /** Runs threads-after.ts; the number of Worker threads it printed once its children ended. */
  function threadsAfter(env: Record<string, string>): string {
    const program = new URL("./fixtures/threads-after.ts", import.meta.url).pathname;
    const r = Bun.spawnSync([process.execPath, program], {
      env: { ...process.env, ...env },
      stdout: "pipe",
      stderr: "inherit",
      timeout: LIMIT,
    });
    return r.stdout.toString().trim();
  }

  test("children that ended leave two Worker threads: the spare made for the next start(), and the supervisor", () => {
    expect(threadsAfter({})).toBe("2");
  });

  test("MULTIPROC_SPARE=0: children that ended leave one Worker thread, the supervisor", () => {
    expect(threadsAfter({ MULTIPROC_SPARE: "0" })).toBe("1");
  });
});

describe("[worker] inside a fork child", () => {
  test("start() throws, naming the fork child and the spawn backend: Bun runs no Worker threads there", () => {
    const program = new URL("./fixtures/worker-in-fork.ts", import.meta.url).pathname;
    const preload = new URL("../../backend-fork/src/preload.ts", import.meta.url).pathname;
    const r = Bun.spawnSync([process.execPath, "--preload", preload, program], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: LIMIT,
    });
    expect(r.stdout.toString().trim()).toBe("3");
    expect(r.stderr.toString()).toContain("inside a fork child");
    expect(r.stderr.toString()).toContain("use the spawn backend");
  });
});

describe("[worker] a target whose module loads nothing of core", () => {
  test("currentProcess() asked later, after a dynamic import of core, is the child's own Process", async () => {
    const out = join(dir, "identity-later.json");
    const p = new mp.Process({ target: lean.reportIdentityLater, args: [out], name: "lean" });
    p.start();
    await p.join(LIMIT);
    expect(p.exitCode).toBe(0);
    const seen = JSON.parse(readFileSync(out, "utf8"));
    expect(seen).toEqual({ name: "lean", same: true, alive: true, parent: "MainProcess", childName: seen.childName });
    // Its own children are numbered under its identity, as a grandchild's are.
    expect(seen.childName).toMatch(/^Process-\d+:1$/);
  });

  test("a Lock and a Connection arrive in its arguments (their classes load when met)", async () => {
    const [mine, theirs] = mp.Pipe();
    const lock = mp.Lock();
    const p = new mp.Process({ target: lean.useLockAndConnection, args: [lock, theirs] });
    p.start();
    theirs.close();
    expect(mine.poll(LIMIT)).toBe(true);
    expect(mine.recvSync()).toBe("done");
    await p.join(LIMIT);
    expect(p.exitCode).toBe(0);
    mine.close();
  });

  test("an error it throws ends it with exitCode 1", async () => {
    const p = new mp.Process({ target: lean.throwPlain });
    p.start();
    await p.join(LIMIT);
    expect(p.exitCode).toBe(1);
  });
});

describe("[worker] library objects among workers", () => {
  test("a Lock and a RawValue made in a worker are shared by its own workers: no update lost", async () => {
    const p = new mp.Process({ target: targets.countWithGrandchildren, args: [3, 500] });
    p.start();
    await p.join(LIMIT);
    expect(p.exitCode).toBe(0);
  });

  test("two workers count under one Lock made by the parent", async () => {
    const lock = mp.Lock();
    const counter = mp.RawValue("i", 0);
    const kids = [0, 1].map(() => new mp.Process({ target: targets.incrementUnder, args: [lock, counter, 2000] }));
    for (const k of kids) k.start();
    for (const k of kids) await k.join(LIMIT);
    expect(kids.map((k) => k.exitCode)).toEqual([0, 0]);
    expect(counter.value).toBe(4000);
  });

  test("workers that map a block made in another process share one mapping of it: none left per worker", async () => {
    const q = mp.Queue<Value>();
    const done = mp.Event();
    const maker = new (getContext("spawn").Process)({ target: targets.shareValueUntil, args: [q, 7, done] });
    maker.start();
    try {
      const runOne = async () => {
        const p = new mp.Process({ target: targets.addToQueuedValue, args: [q] });
        p.start();
        await p.join(LIMIT);
        expect(p.exitCode).toBe(0);
        p.close();
      };
      await runOne(); // the first maps the block for the whole process
      const before = resources();
      for (let i = 0; i < 5; i++) await runOne();
      expect(resources()).toEqual(before);
      const v = q.getSync({ timeout: LIMIT });
      expect(v.value).toBe(6);
    } finally {
      done.set();
      await maker.join(LIMIT);
      q.close();
    }
    expect(maker.exitCode).toBe(0);
  });

  test("threads carving the shared arena at once never get the same bytes", async () => {
    const kids = [1, 2, 3].map((stamp) => new mp.Process({ target: targets.carveAndCheck, args: [20_000, stamp] }));
    for (const k of kids) k.start();
    expect(targets.carveValues(20_000, 0)).toBe(true);
    for (const k of kids) await k.join(LIMIT);
    expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0]);
  });

  test("workers that use a Queue and make Locks and Values leave no descriptor or mapping behind", async () => {
    const total = mp.RawValue("i", 0);
    const q = mp.Queue<number>();
    const runOne = async () => {
      const p = new mp.Process({ target: targets.makeSharedObjects, args: [total, q] });
      p.start();
      expect(await q.get({ timeout: LIMIT })).toBe(1);
      await p.join(LIMIT);
      expect(p.exitCode).toBe(0);
      p.close();
    };
    await runOne(); // the first may open the process's next segment
    const before = resources();
    for (let i = 0; i < 5; i++) await runOne();
    expect(resources()).toEqual(before);
    expect(total.value).toBe(6);
    q.close();
  });
});

describe("[worker] malformed messages from the parent", () => {
  for (const which of ["prepare", "start"] as const) {
    test(`a malformed ${which} message ends that worker with the bad field named, not its parent`, () => {
      const program = new URL("./fixtures/malformed-messages.ts", import.meta.url).pathname;
      const r = Bun.spawnSync([process.execPath, program, which], { stdout: "pipe", stderr: "pipe", timeout: LIMIT });
      expect(JSON.parse(r.stdout.toString())).toEqual({ code: 1, parentAlive: true });
      expect(r.stderr.toString()).toMatch(
        which === "prepare"
          ? /multiproc worker: Malformed prepare message: control: expected an Int32Array over a SharedArrayBuffer/
          : /multiproc worker: Malformed worker start message: fds\.0: /,
      );
      expect(r.exitCode).toBe(0);
    });
  }
});
