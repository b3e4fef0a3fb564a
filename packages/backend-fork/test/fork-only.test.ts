/**
 * What only the fork backend promises: closures and unexported classes as
 * targets, unsendable arguments, module globals as they were at start(),
 * library objects used with no re-encoding, fresh randomness per child, and
 * a child that is cut off from the parent's timers, sockets and exit hooks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { currentProcess, parentProcess, waitSync } from "../../core/src/index.ts";
import { CHILD_TIMEOUT, readJson, run, suite } from "../../core/test/conformance/harness.ts";
import { testHooks } from "../src/child-main.ts";
import { startRetries } from "../src/index.ts";
import { openFdList, openFds } from "../../core/test/fixtures/os-resources.ts";

const s = suite("fork");
const { mp } = s;

/** A module global the tests change around start(). */
let moduleCounter = 0;
/** A RawValue only a fork child's target names, through this binding (see the arena test below). */
let forkShared: { value: number } | undefined;

describe("[fork] the child's own loop", () => {
  test("setTimeout, setInterval, setImmediate, nextTick and node:timers/promises run in order in a child", async () => {
    const out = s.file("timers");
    const p = await run(
      new mp.Process({
        target: async () => {
          const log: string[] = [];
          const { setTimeout: delay } = await import("node:timers/promises");
          setTimeout(() => log.push("t20"), 20);
          const cancelled = setTimeout(() => log.push("never"), 5);
          clearTimeout(cancelled);
          let n = 0;
          const iv = setInterval(() => {
            log.push(`i${++n}`);
            if (n === 3) clearInterval(iv);
          }, 5);
          setImmediate(() => log.push("immediate"));
          process.nextTick(() => log.push("tick"));
          await Promise.resolve();
          log.push("micro");
          log.push(String(await delay(40, "p40")));
          writeFileSync(out, JSON.stringify(log));
        },
      }),
    );
    expect(p.exitCode).toBe(0);
    const log = readJson<string[]>(out);
    // Inside a microtask (after the await), Node too runs the tick after the promise jobs.
    expect(log.slice(0, 3)).toEqual(["micro", "tick", "immediate"]);
    expect(log).toContain("t20");
    expect(log.filter((x) => /^i\d$/.test(x))).toEqual(["i1", "i2", "i3"]);
    expect(log).not.toContain("never");
    expect(log.at(-1)).toBe("p40");
  });

  test("the parent's pending timers never fire in a child", async () => {
    const out = s.file("parent-timer");
    writeFileSync(out, "");
    const timer = setTimeout(() => writeFileSync(out, `${readFileSync(out, "utf8")}${process.pid}\n`, "utf8"), 30);
    const p = await run(new mp.Process({ target: () => Bun.sleep(150) }));
    expect(p.exitCode).toBe(0);
    clearTimeout(timer);
    await Bun.sleep(50);
    const lines = readFileSync(out, "utf8").trim().split("\n").filter(Boolean);
    expect(lines).toEqual([String(process.pid)]);
  });

  test("an error thrown in a child's timer callback prints its stack and gives exit code 1", async () => {
    const p = await run(
      new mp.Process({
        target: () =>
          new Promise<void>(() => {
            setTimeout(() => {
              throw new Error("timer failed on purpose (expected in this test)");
            }, 5);
          }),
      }),
    );
    expect(p.exitCode).toBe(1);
  });
});

describe("[fork] shared memory after fork", () => {
  test("a Value the parent drops after forking is not handed out again while the child uses it", async () => {
    forkShared = mp.RawValue("i", 7);
    const p = new mp.Process({
      target: () => {
        Bun.sleepSync(400); // while the parent drops its Value and makes new ones
        process.exit(forkShared?.value === 7 ? 0 : 1);
      },
    });
    p.start();
    forkShared = undefined; // the parent's Value is garbage now; the child's copy is not
    for (let round = 0; round < 3; round++) {
      Bun.gc(true);
      await Bun.sleep(20);
      for (const v of Array.from({ length: 5_000 }, () => mp.RawValue("i"))) v.value = -1;
    }
    await p.join(CHILD_TIMEOUT);
    expect(p.exitCode).toBe(0);
  });
});

describe("[fork] hazards", () => {
  /** Runs forks-beside-worker.ts with `mode`; its stdout and stderr. */
  function forksBeside(mode: "worker" | "waker" | "spare"): { stdout: string; stderr: string } {
    const program = new URL("./fixtures/forks-beside-worker.ts", import.meta.url).pathname;
    const preload = new URL("../src/preload.ts", import.meta.url).pathname;
    const r = Bun.spawnSync([process.execPath, "--preload", preload, program, mode], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: CHILD_TIMEOUT,
    });
    return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
  }

  test("forking while a Worker thread runs works, and warns once that a child could hang", () => {
    const r = forksBeside("worker");
    expect(r.stdout).toBe("[0,1,2,3,4]");
    // Once, and naming no count: threads named "Worker" include, for a moment,
    // the helper threads a Worker starts, so one Worker was sometimes seen as 2 (#18 point 11).
    expect(r.stderr.match(/multiproc: warning: forking while Worker threads run/g)?.length).toBe(1);
  });

  test("the library's own waker thread (async waits) is no reason to warn: it parks during fork", () => {
    const r = forksBeside("waker");
    expect(r.stdout).toBe("[0,1,2,3,4]");
    expect(r.stderr).not.toContain("multiproc: warning");
  });

  test("the worker backend's spare Worker is let go before each fork: no warning, worker children still run", () => {
    const r = forksBeside("spare");
    expect(r.stdout).toBe("[10,0,11,1,12,2,13,3,14,4]");
    expect(r.stderr).not.toContain("multiproc: warning");
  });
});

describe("[fork] output", () => {
  test("everything a child printed reaches the pipe before it ends (2 MB through console.log and stdout.write)", () => {
    const program = new URL("./fixtures/loud-child.ts", import.meta.url).pathname;
    const r = Bun.spawnSync([process.execPath, program, "10000"], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: CHILD_TIMEOUT,
    });
    const lines = r.stdout.toString().split("\n");
    expect(lines.filter((l) => l === "y".repeat(99)).length).toBe(20_000);
    expect(lines.at(-2)).toBe("exit 3");
    expect(r.stderr.toString()).toContain("stderr-end");
  });
});

/**
 * The tests that depend on the child's set-up, run with the native one
 * (fork-child.c, the default) and with the JavaScript one (used when bun:ffi's
 * cc is unavailable): the same promises hold on both.
 */
function setupDependent(label: string, javascriptSetup: boolean): void {
  beforeAll(() => {
    testHooks.javascriptSetup = javascriptSetup;
  });
  afterAll(() => {
    testHooks.javascriptSetup = false;
  });

  describe(`[fork${label}] targets and memory`, () => {
    test("Process target may be a closure over local variables and unsendable arguments", async () => {
      const out = s.file("closure");
      const secret = { n: 41, bump: (x: number) => x + 1 };
      class Local {
        constructor(readonly v: string) {}
        shout(): string {
          return this.v.toUpperCase();
        }
      }
      const p = await run(
        new mp.Process({
          target: (local: Local, fn: (x: number) => number) => {
            writeFileSync(out, JSON.stringify({ n: secret.bump(secret.n), shout: local.shout(), fn: fn(1) }));
          },
          args: [new Local("hi"), (x: number) => x * 10],
        }),
      );
      expect(p.exitCode).toBe(0);
      expect(readJson(out)).toEqual({ n: 42, shout: "HI", fn: 10 });
    });

    test("Process child sees module globals as they were at start(), not later changes", async () => {
      const out = s.file("globals");
      moduleCounter = 5;
      const p = new mp.Process({
        target: async () => {
          await Bun.sleep(100);
          writeFileSync(out, JSON.stringify({ moduleCounter }));
        },
      });
      p.start();
      moduleCounter = 99;
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      expect(readJson(out)).toEqual({ moduleCounter: 5 });
      expect(moduleCounter).toBe(99);
    });

    test("Process unexported subclass runs its own run() with its fields", async () => {
      const out = s.file("subclass");
      class Hidden extends mp.Process {
        constructor(readonly words: string[]) {
          super({ name: "hidden" });
        }
        override run(): void {
          writeFileSync(
            out,
            JSON.stringify({ name: currentProcess().name, words: this.words, me: this instanceof Hidden }),
          );
        }
      }
      const p = await run(new Hidden(["a", "b"]));
      expect(p.exitCode).toBe(0);
      expect(readJson(out)).toEqual({ name: "hidden", words: ["a", "b"], me: true });
    });

    test("Process child has its own pid; currentProcess() and parentProcess() are right", async () => {
      const out = s.file("pid");
      const p = await run(
        new mp.Process({
          target: () => {
            const status = readFileSync("/proc/self/status", "utf8");
            const real = Number(/^Pid:\s+(\d+)/m.exec(status)?.[1]);
            writeFileSync(
              out,
              JSON.stringify({
                pid: process.pid,
                real,
                current: currentProcess().pid,
                parent: parentProcess()?.pid,
                ppid: process.ppid,
              }),
            );
          },
        }),
      );
      const r = readJson(out);
      expect(r.pid).toBe(p.pid);
      expect(r.real).toBe(p.pid);
      expect(r.current).toBe(p.pid);
      expect(r.parent).toBe(process.pid);
      expect(r.ppid).toBe(process.pid);
    });

    test("parentProcess() names the parent as it is at start(), in a child and in a grandchild (#23: made before the fork)", async () => {
      const out = s.file("parents");
      const me = currentProcess();
      const before = me.name;
      const seen = () => ({
        name: parentProcess()?.name,
        pid: parentProcess()?.pid,
        alive: parentProcess()?.isAlive(),
      });
      try {
        expect((await run(new mp.Process({ target: () => writeFileSync(out, JSON.stringify(seen())) }))).exitCode).toBe(
          0,
        );
        expect(readJson(out)).toEqual({ name: before, pid: process.pid, alive: true });
        me.name = "renamed-parent";
        const p = await run(
          new mp.Process({
            name: "middle",
            target: async () => {
              const first = seen();
              const g = new mp.Process({ target: () => writeFileSync(`${out}.g`, JSON.stringify(seen())) });
              g.start();
              await g.join(CHILD_TIMEOUT);
              writeFileSync(out, JSON.stringify({ first, again: seen(), grandchild: g.exitCode, pid: process.pid }));
            },
          }),
        );
        expect(p.exitCode).toBe(0);
        const r = readJson(out) as { first: unknown; again: unknown; grandchild: number; pid: number };
        expect(r.first).toEqual({ name: "renamed-parent", pid: process.pid, alive: true });
        expect(r.again).toEqual(r.first);
        expect(r.grandchild).toBe(0);
        expect(readJson(`${out}.g`)).toEqual({ name: "middle", pid: r.pid, alive: true });
      } finally {
        me.name = before;
      }
    });

    test("start() leaves the parent its own timers, streams and exit (the child's are put in place only across fork(2))", async () => {
      const timers = require("node:timers") as Record<string, unknown>;
      const promises = require("node:timers/promises") as Record<string, unknown>;
      const own = () => [
        globalThis.setTimeout,
        globalThis.setImmediate,
        globalThis.clearTimeout,
        Bun.sleep,
        timers.setTimeout,
        promises.setTimeout,
        process.stdout.write,
        process.stderr.write,
        process.exit,
      ];
      const before = own();
      const out = s.file("child-globals");
      const p = await run(
        new mp.Process({
          target: () => writeFileSync(out, JSON.stringify(own().map((f, i) => f === before[i]))),
        }),
      );
      expect(p.exitCode).toBe(0);
      expect(own()).toEqual(before);
      expect(readJson(out) as unknown).toEqual(before.map(() => false)); // every one of them is the child's own there
    });

    test("Lock created before start() is used by a closure in the child with no re-encoding", async () => {
      const lock = mp.Lock();
      lock.acquireSync();
      const out = s.file("lock");
      const p = new mp.Process({
        target: () => {
          const got = lock.acquireSync({ timeout: CHILD_TIMEOUT });
          writeFileSync(out, JSON.stringify({ got }));
          lock.release();
        },
      });
      p.start();
      await Bun.sleep(50);
      expect(p.isAlive()).toBe(true);
      lock.release();
      await p.join(CHILD_TIMEOUT);
      expect(readJson(out)).toEqual({ got: true });
      expect(lock.acquireSync({ timeout: 1000 })).toBe(true);
      lock.release();
    });

    test("Math.random, crypto.randomUUID and crypto.getRandomValues differ between sibling children and the parent", async () => {
      // The parent draws first: from then on its generators' state is what a child would inherit.
      const parentDraws = [crypto.randomUUID(), crypto.getRandomValues(new Uint32Array(4)).join()];
      const outs = [s.file("rand"), s.file("rand"), s.file("rand")];
      const kids = outs.map(
        (out) =>
          new mp.Process({
            target: () =>
              writeFileSync(
                out,
                JSON.stringify({
                  r: [Math.random(), Math.random()],
                  u: crypto.randomUUID(),
                  g: crypto.getRandomValues(new Uint32Array(4)).join(),
                  n: (require("node:crypto") as typeof import("node:crypto")).randomUUID(),
                }),
              ),
          }),
      );
      for (const k of kids) k.start();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      const rs = outs.map((o) => readJson<{ r: number[]; u: string; g: string; n: string }>(o));
      const mine = Math.random();
      const firsts = new Set([...rs.map((r) => r.r[0]), mine]);
      expect(firsts.size).toBe(4);
      expect(new Set([...rs.map((r) => r.u), parentDraws[0], crypto.randomUUID()]).size).toBe(5);
      expect(
        new Set([...rs.map((r) => r.g), parentDraws[1], crypto.getRandomValues(new Uint32Array(4)).join()]).size,
      ).toBe(5);
      expect(new Set(rs.map((r) => r.n)).size).toBe(3);
      for (const r of rs) expect(r.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });

  describe(`[fork${label}] parent resources`, () => {
    test("a child cannot write to the parent's sockets, and the parent's server answers alone", async () => {
      const received: string[] = [];
      const server = Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        socket: { data: (_sock, data) => void received.push(data.toString()) },
      });
      const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
      const out = s.file("socket");
      const p = await run(
        new mp.Process({
          target: () => {
            let wrote: unknown;
            try {
              wrote = client.write("from the child");
            } catch (e) {
              wrote = String(e);
            }
            writeFileSync(out, JSON.stringify({ wrote }));
          },
        }),
      );
      expect(p.exitCode).toBe(0);
      client.write("from the parent");
      const deadline = performance.now() + 5000;
      while (!received.join("").includes("from the parent") && performance.now() < deadline) await Bun.sleep(10);
      expect(received.join("")).toBe("from the parent");
      client.end();
      server.stop(true);
    });

    test("Process in a child: the parent's exit listeners do not run there, the child's own do", async () => {
      const out = s.file("exit-listeners");
      writeFileSync(out, "");
      const parentListener = () => writeFileSync(out, `${readFileSync(out, "utf8")}parent-listener ${process.pid}\n`);
      const parentOnce = () => writeFileSync(out, `${readFileSync(out, "utf8")}parent-once ${process.pid}\n`);
      process.on("exit", parentListener);
      process.once("exit", parentOnce);
      try {
        const p = await run(
          new mp.Process({
            target: () => {
              process.on("exit", (code) => writeFileSync(out, `${readFileSync(out, "utf8")}child-listener ${code}\n`));
              process.exit(4);
            },
          }),
        );
        expect(p.exitCode).toBe(4);
      } finally {
        process.off("exit", parentListener);
        process.off("exit", parentOnce);
      }
      expect(readFileSync(out, "utf8")).toBe("child-listener 4\n");
    });

    test("a child that returns while its own child runs waits for it at exit, as Python's does (#23: the library's exit listener is inherited)", async () => {
      const out = s.file("joined-at-exit");
      writeFileSync(out, "");
      // The parent has started children already (this file's tests): its exit listener is the library's.
      const p = await run(
        new mp.Process({
          target: () => {
            const g = new mp.Process({
              target: () => {
                Bun.sleepSync(300);
                writeFileSync(out, "grandchild done");
              },
            });
            g.start();
          },
        }),
      );
      expect(p.exitCode).toBe(0);
      expect(readFileSync(out, "utf8")).toBe("grandchild done");
    });

    test("a child's process.exit() with no code exits 0, though the parent set process.exitCode (#23: reset only then)", async () => {
      const out = s.file("exit-code");
      const saved = process.exitCode;
      try {
        for (const parentCode of [3, 0]) {
          process.exitCode = parentCode;
          const p = await run(
            new mp.Process({
              target: () => {
                writeFileSync(out, JSON.stringify(Number(process.exitCode ?? 0)));
                process.exit();
              },
            }),
          );
          expect([parentCode, p.exitCode, readJson(out)]).toEqual([parentCode, 0, 0]);
        }
      } finally {
        // Not undefined: Bun keeps the last code then, and the test runner would exit with it.
        process.exitCode = saved ?? 0;
      }
    });

    /** Starts `n` no-op children in turn, joining every other one with join() and the rest with joinSync(). */
    async function joinedNoOps(n: number): Promise<InstanceType<typeof mp.Process>[]> {
      const joined: InstanceType<typeof mp.Process>[] = [];
      for (let i = 0; i < n; i++) {
        const p = new mp.Process({ target: () => {} });
        p.start();
        if (i % 2 === 0) await p.join(CHILD_TIMEOUT);
        else p.joinSync(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        joined.push(p);
      }
      return joined;
    }

    /** The library's own descriptors (start slots, the native set-up) exist from the first fork on: made before a count. */
    async function afterAFork(): Promise<void> {
      (await run(new mp.Process({ target: () => {} }))).close();
    }

    test("Process.start() leaves no descriptor and no zombie in the parent", async () => {
      await afterAFork();
      const before = openFds();
      for (const p of await joinedNoOps(20)) {
        const pid = p.pid!;
        p.close();
        expect(() => readFileSync(`/proc/${pid}/stat`)).toThrow();
      }
      expect(openFds()).toBeLessThanOrEqual(before);
    });

    test("a joined child nobody closed holds no descriptor once reaped; its sentinel, read after that, is readable (#23)", async () => {
      await afterAFork();
      const before = openFds();
      const kept = await joinedNoOps(20); // not closed, and alive: no Process of theirs is collected
      expect(openFds()).toBeLessThanOrEqual(before);
      const last = kept.at(-1)!;
      expect(typeof last.sentinel).toBe("number");
      expect(waitSync([last.sentinel!], 0)).toEqual([last.sentinel!]);
      expect(openFds()).toBe(before + 1);
      for (const p of kept) p.close();
      expect(openFds()).toBeLessThanOrEqual(before);
    });

    test("a child nobody joins or polls is reaped by the watch within about a second: no zombie is left", async () => {
      const p = new mp.Process({ target: () => {} });
      p.start();
      const pid = p.pid!;
      // Only /proc is read here: anything asked of p (exitCode, isAlive) would reap the child itself.
      const deadline = performance.now() + 10_000;
      while (existsSync(`/proc/${pid}`) && performance.now() < deadline) await Bun.sleep(20);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(p.exitCode).toBe(0);
      p.close();
    });

    test("a sentinel read while the child runs stays that child's pidfd until close() (#23)", async () => {
      const ready = mp.Event();
      const p = new mp.Process({ target: () => ready.waitSync(CHILD_TIMEOUT) });
      p.start();
      const fd = p.sentinel!;
      expect(waitSync([fd], 0)).toEqual([]);
      ready.set();
      expect(waitSync([fd], CHILD_TIMEOUT)).toEqual([fd]);
      await p.join(CHILD_TIMEOUT);
      expect(p.sentinel).toBe(fd);
      expect(waitSync([fd], 0)).toEqual([fd]);
      p.close();
    });

    test("a child closes its siblings' pidfds, however they lie among the program's own descriptors, and keeps the program's", async () => {
      const { openSync, closeSync } = await import("node:fs");
      const mine: number[] = [];
      const siblings = [];
      // Joined and not closed: each keeps its pidfd open in the parent, between files the program opened.
      for (let i = 0; i < 12; i++) {
        const p = new mp.Process({ target: () => {} });
        p.start();
        await p.join(CHILD_TIMEOUT);
        siblings.push(p);
        if (i % 3 === 0) mine.push(openSync("/dev/null", "r"));
      }
      const out = s.file("fds");
      try {
        const p = await run(
          new mp.Process({
            target: () => {
              const list = openFdList();
              writeFileSync(
                out,
                JSON.stringify({
                  pidfds: list.filter((f) => f.endsWith("anon_inode:[pidfd]")).length,
                  mine: mine.filter((fd) => list.some((f) => f.startsWith(`${fd}:/dev/null`))).length,
                }),
              );
            },
          }),
        );
        expect(p.exitCode).toBe(0);
        // No pidfd: the one on its parent (parentProcess()) is opened only when used (#23).
        expect(readJson(out)).toEqual({ pidfds: 0, mine: mine.length });
      } finally {
        for (const fd of mine) closeSync(fd);
        for (const p of siblings) p.close();
      }
    });

    test("once an awaited join returned and close() ran, none of the child's descriptors is open", async () => {
      // No pause before the look: the runtime's stream read used to close its own dup of the exit pipe later, on a thread.
      const before = new Set(openFdList());
      const left: string[] = [];
      for (let i = 0; i < 100; i++) {
        const p = new mp.Process({ target: () => {} });
        p.start();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        p.close();
        left.push(...openFdList().filter((f) => !before.has(f) && /pidfd|pipe:/.test(f)));
      }
      expect(left).toEqual([]);
    });

    test("awaited joins share one SIGCHLD listener, next to the program's own, which still hears every signal", async () => {
      let seen = 0;
      const own = () => {
        seen++;
      };
      process.on("SIGCHLD", own);
      try {
        for (let i = 0; i < 3; i++) {
          const p = new mp.Process({ target: () => Bun.sleep(20) });
          p.start();
          const joined = p.join(CHILD_TIMEOUT);
          // One listener of the library beside the program's, whichever join this is.
          expect(process.listenerCount("SIGCHLD")).toBe(2);
          expect(await joined).toBeUndefined();
          expect(p.exitCode).toBe(0);
          p.close();
        }
        await Bun.sleep(1);
        expect(seen).toBeGreaterThanOrEqual(3);
        expect(process.listeners("SIGCHLD")).toContain(own);
      } finally {
        process.off("SIGCHLD", own);
      }
    });

    test("an awaited join still ends when the program removed every SIGCHLD listener while it waited", async () => {
      const p = new mp.Process({ target: () => Bun.sleep(50) });
      p.start();
      const joined = p.join(CHILD_TIMEOUT);
      process.removeAllListeners("SIGCHLD");
      const from = performance.now();
      await joined;
      expect(p.exitCode).toBe(0);
      // Its wait is bounded (one second) when no signal comes: not CHILD_TIMEOUT.
      expect(performance.now() - from).toBeLessThan(5000);
      p.close();
    });

    test("a child stuck on a lock before it starts is forked again: start() returns a running child, nothing leaks", async () => {
      // Made first: its lock may open the arena's next segment, which stays.
      const q = mp.Queue<number>();
      const fds = openFds();
      const retries = startRetries();
      const state = { value: 41 };
      state.value++; // the copies must see the memory of start(), whichever attempt runs
      const p = new mp.Process({ target: () => q.putSync(state.value) });
      // As without the JSC settings, where such children occur (docs/fork.md, "Hangs").
      testHooks.checkStart = true;
      testHooks.stuckChildren = 2;
      // A stuck child is found as soon as it sleeps; a loaded machine (CI) can
      // take longer than the usual 250 ms window to get it there.
      testHooks.startWaitMs = 10_000;
      try {
        p.start();
      } finally {
        testHooks.stuckChildren = 0;
        testHooks.checkStart = false;
        testHooks.startWaitMs = undefined;
      }
      expect(startRetries() - retries).toBe(2);
      expect(q.getSync({ timeout: CHILD_TIMEOUT })).toBe(42);
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      p.close();
      q.close();
      expect(openFds()).toBeLessThanOrEqual(fds);
    });

    test("a started child asleep for good on a runtime lock is reported and killed, never waited on forever", async () => {
      // Atomics.wait with no timeout sleeps the way the residual runtime hang
      // does (docs/fork.md, "Hangs"): nothing in a one-thread fork child can end it.
      const p = new mp.Process({ target: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) });
      p.start();
      const t0 = performance.now();
      await p.join(); // no timeout: the check must end it
      expect(p.exitCode).toBe(-9);
      expect(performance.now() - t0).toBeLessThan(CHILD_TIMEOUT);
    });

    test("a child that never reports it started is reported and killed, never waited on forever", async () => {
      const old = process.env.MULTIPROC_FORK_START_TIMEOUT_MS;
      process.env.MULTIPROC_FORK_START_TIMEOUT_MS = "300";
      testHooks.hangBeforeStart = true;
      const p = new mp.Process({ target: () => {} });
      try {
        p.start();
      } finally {
        testHooks.hangBeforeStart = false;
        if (old === undefined) delete process.env.MULTIPROC_FORK_START_TIMEOUT_MS;
        else process.env.MULTIPROC_FORK_START_TIMEOUT_MS = old;
      }
      const t0 = performance.now();
      await p.join(); // no timeout: the supervisor must end it
      expect(p.exitCode).toBe(-9);
      expect(performance.now() - t0).toBeLessThan(CHILD_TIMEOUT);
      const q = new mp.Process({ target: () => {} });
      await run(q);
      expect(q.exitCode).toBe(0);
    });
  });

  describe(`[fork${label}] signals`, () => {
    /** Runs `body` with listeners of the parent (this process) on SIGTERM, SIGINT and SIGHUP that log to `out`. */
    async function withParentListeners(out: string, body: () => Promise<void>): Promise<void> {
      writeFileSync(out, "");
      const listener = (sig: string) => writeFileSync(out, `${readFileSync(out, "utf8")}${sig} in ${process.pid}\n`);
      const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
      for (const sig of signals) process.on(sig, listener);
      try {
        await body();
      } finally {
        for (const sig of signals) process.off(sig, listener);
      }
    }

    test(
      "a child ends by SIGTERM, SIGINT, SIGHUP right after start() though the parent listens to them",
      async () => {
        const out = s.file("parent-listeners");
        await withParentListeners(out, async () => {
          for (const [sig, code] of [
            ["SIGTERM", -15],
            ["SIGINT", -2],
            ["SIGHUP", -1],
          ] as const) {
            const p = new mp.Process({ target: () => Bun.sleep(600_000) });
            p.start();
            // At once: the signal may come before the child has done anything of its own.
            if (sig === "SIGTERM") p.terminate();
            else process.kill(p.pid!, sig);
            await p.join(CHILD_TIMEOUT);
            if (p.exitCode === null) p.kill();
            await p.join(CHILD_TIMEOUT);
            expect([sig, p.exitCode]).toEqual([sig, code]);
          }
        });
        expect(readFileSync(out, "utf8")).toBe("");
      },
      4 * CHILD_TIMEOUT,
    );

    test("Process.terminate() of a started child ends it with -15 though the parent listens to SIGTERM", async () => {
      const out = s.file("parent-listeners");
      await withParentListeners(out, async () => {
        const ready = mp.Event();
        const p = new mp.Process({
          target: async () => {
            ready.set();
            await Bun.sleep(600_000);
          },
        });
        p.start();
        expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
        p.terminate();
        await p.join(CHILD_TIMEOUT);
        if (p.exitCode === null) p.kill();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(-15);
      });
      expect(readFileSync(out, "utf8")).toBe("");
    });

    test(
      "a grandchild's own SIGTERM listener runs on terminate() from its parent, a fork child (#23: one listener for the program)",
      async () => {
        const out = s.file("grandchild-listener");
        writeFileSync(out, "");
        const p = await run(
          new mp.Process({
            target: async () => {
              const ready = mp.Event();
              const g = new mp.Process({
                target: async () => {
                  process.on("SIGTERM", (sig: string) => {
                    writeFileSync(out, `grandchild ${sig}\n`);
                    process.exit(7);
                  });
                  ready.set();
                  await Bun.sleep(600_000);
                },
              });
              g.start();
              if (!(await ready.wait(CHILD_TIMEOUT))) process.exit(2);
              g.terminate();
              await g.join(CHILD_TIMEOUT);
              if (g.exitCode === null) g.kill();
              process.exit(g.exitCode === 7 ? 0 : 3);
            },
          }),
          3 * CHILD_TIMEOUT,
        );
        expect(p.exitCode).toBe(0);
        expect(readFileSync(out, "utf8")).toBe("grandchild SIGTERM\n");
      },
      4 * CHILD_TIMEOUT,
    );

    test(
      "a child's own SIGTERM listener runs on terminate(); once removed, terminate() ends the child",
      async () => {
        const out = s.file("child-listener");
        await withParentListeners(out, async () => {
          for (const keep of [true, false]) {
            const ready = mp.Event();
            const p = new mp.Process({
              target: async () => {
                const own = (sig: string) => {
                  writeFileSync(out, `${readFileSync(out, "utf8")}child ${sig}\n`);
                  process.exit(7);
                };
                process.on("SIGTERM", own);
                if (!keep) process.off("SIGTERM", own);
                ready.set();
                await Bun.sleep(600_000);
              },
            });
            p.start();
            expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
            p.terminate();
            await p.join(CHILD_TIMEOUT);
            if (p.exitCode === null) p.kill();
            await p.join(CHILD_TIMEOUT);
            expect([keep, p.exitCode]).toEqual([keep, keep ? 7 : -15]);
          }
        });
        expect(readFileSync(out, "utf8")).toBe("child SIGTERM\n");
      },
      4 * CHILD_TIMEOUT,
    );
  });
}

describe("[fork] native set-up", () => setupDependent("", false));
describe("[fork] JavaScript set-up", () => setupDependent(", JavaScript set-up", true));

describe("[fork] a parent's collections", () => {
  test("a child started after the parent's full collection takes about as many page faults as one before it (#23)", () => {
    // In a program of its own: this runner's process has collected many times already. Page
    // faults, not time: they do not move with the machine's load. Each fault is a page of the
    // parent the child copies; a child that looked anything up in a property table the collection
    // had dropped (libc's, process's, a Process's) rebuilt it: +53 to +63 faults a child before.
    const program = new URL("./fixtures/faults-after-collection.ts", import.meta.url).pathname;
    const preload = new URL("../src/preload.ts", import.meta.url).pathname;
    const r = Bun.spawnSync([process.execPath, "--preload", preload, program], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
    expect(r.stderr.toString()).toBe("");
    const faults = JSON.parse(r.stdout.toString().trim()) as { fresh: number; eden: number; full: number };
    console.log(`faults of a no-op child: ${JSON.stringify(faults)}`);
    expect(faults.full).toBeLessThan(faults.fresh + 40);
  }, 70_000);
});
