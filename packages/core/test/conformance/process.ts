/** Conformance: Process lifecycle, exit codes, signals, names and misuse. */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import {
  activeChildren,
  ConfigError,
  getContext,
  type Event,
  getStartMethod,
  type Lock,
  PicklingError,
  ProcessError,
  setStartMethod,
} from "../../src/index.ts";
import { reportStartMethod, type StartReport } from "../fixtures/edge-targets.ts";
import * as lean from "../fixtures/lean-targets.ts";
import * as targets from "../fixtures/targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, readJson, run, type Suite } from "./harness.ts";

export function processTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Process`, () => {
    test("Process.start() and join() run the target to exit code 0", async () => {
      const p = await run(new mp.Process({ target: targets.noop }));
      expect(p.exitCode).toBe(0);
      expect(p.isAlive()).toBe(false);
      expect(typeof p.pid).toBe("number");
      if (s.caps.separateProcess) expect(p.pid).not.toBe(process.pid);
      else expect(p.pid).toBe(process.pid);
      p.close();
    });

    test("Process.pid is undefined and exitCode null before start", () => {
      const p = new mp.Process({ target: targets.noop });
      expect(p.pid).toBeUndefined();
      expect(p.exitCode).toBeNull();
      expect(p.isAlive()).toBe(false);
      expect(p.name).toMatch(/^Process-\d+$/);
    });

    test("Process name follows Python's Process-N rule and can be set", () => {
      const a = new mp.Process({ target: targets.noop });
      const b = new mp.Process({ target: targets.noop });
      const na = Number(a.name.split("-")[1]);
      expect(b.name).toBe(`Process-${na + 1}`);
      expect(new mp.Process({ name: "worker-a" }).name).toBe("worker-a");
    });

    test("Process args arrive intact and the child knows its name and parent", async () => {
      const out = s.file("report");
      const payload = {
        n: 42,
        big: 2n ** 70n,
        when: new Date(0),
        m: new Map([["k", new Set([1, 2])]]),
        bytes: new Uint8Array([1, 2, 3]),
      };
      const p = await run(new mp.Process({ target: targets.report, args: [out, payload, "str"], name: "reporter" }));
      expect(p.exitCode).toBe(0);
      const r = readJson(out);
      expect(r.name).toBe("reporter");
      expect(r.pid).toBe(p.pid);
      expect(r.parentName).toBe("MainProcess");
      expect(r.parentPid).toBe(process.pid);
      expect(r.parentAlive).toBe(true);
      expect(r.args).toEqual([targets.describe(payload), "str"]);
    });

    test("a child sees process.env as it was at its start(), changes made just before included", async () => {
      const keys = ["MULTIPROC_TEST_ENV_SET", "MULTIPROC_TEST_ENV_GONE"];
      const [set, gone] = keys as [string, string];
      const first = s.file("env-first");
      const second = s.file("env-second");
      try {
        process.env[gone] = "before";
        await run(new mp.Process({ target: targets.reportEnv, args: [first, keys] }));
        expect(readJson<(string | null)[]>(first)).toEqual([null, "before"]);
        // Changed after a child ran (a backend may have made its next child's thread or process then).
        process.env[set] = "now";
        delete process.env[gone];
        const p = await run(new mp.Process({ target: targets.reportEnv, args: [second, keys] }));
        expect(p.exitCode).toBe(0);
        expect(readJson<(string | null)[]>(second)).toEqual(["now", null]);
      } finally {
        delete process.env[set];
        delete process.env[gone];
      }
    });

    test("a child works in the parent's working directory as it was at its start()", async () => {
      const out = s.file("cwd");
      await run(new mp.Process({ target: targets.reportCwd, args: [out] }));
      const home = process.cwd();
      const elsewhere = realpathSync(tmpdir());
      try {
        // Changed after a child ran (a backend may have made its next child's process then).
        process.chdir(elsewhere);
        const p = await run(new mp.Process({ target: targets.reportCwd, args: [out] }));
        expect(p.exitCode).toBe(0);
        expect(readJson<string>(out)).toBe(elsewhere);
      } finally {
        process.chdir(home);
      }
    });

    test("Process exitCode is 1 after an uncaught error", async () => {
      const p = await run(new mp.Process({ target: targets.crash, args: ["boom (expected in this test)"] }));
      expect(p.exitCode).toBe(1);
    });

    test("Process exitCode is 1 after an error thrown from a timer while run() waits", async () => {
      const p = await run(new mp.Process({ target: targets.crashInTimer }));
      expect(p.exitCode).toBe(1);
    });

    test("Process exitCode is n after process.exit(n)", async () => {
      expect((await run(new mp.Process({ target: targets.exitWith, args: [7] }))).exitCode).toBe(7);
      expect((await run(new mp.Process({ target: targets.exitWith, args: [0] }))).exitCode).toBe(0);
    });

    test("Process with an async target ends when the promise settles", async () => {
      expect((await run(new mp.Process({ target: targets.sleepThen, args: [50, "ok"] }))).exitCode).toBe(0);
      expect((await run(new mp.Process({ target: targets.sleepThen, args: [10, "reject"] }))).exitCode).toBe(1);
    });

    test("a target that returns at once still runs the promise callbacks it queued before the child ends", async () => {
      const out = s.file("queued");
      const p = await run(new mp.Process({ target: targets.queueWrite, args: [out] }));
      expect(p.exitCode).toBe(0);
      expect(readFileSync(out, "utf8")).toBe("ran");
    });

    test("Process.terminate() gives exitCode -15", async () => {
      const p = new mp.Process({ target: targets.hang });
      p.start();
      expect(p.isAlive()).toBe(true);
      p.terminate();
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(-15);
      expect(p.isAlive()).toBe(false);
    });

    test("a child sees the parent's process.argv (Python's spawn sets sys.argv) (#18)", async () => {
      const out = s.file("argv");
      expect((await run(new mp.Process({ target: targets.reportArgv, args: [out] }))).exitCode).toBe(0);
      expect(readJson<string[]>(out)).toEqual(process.argv);
    });

    // Skipped for threads (the worker backend), as Python skips it: a thread's parent is its own process, which lives on.
    test.skipIf(!s.caps.separateProcess)(
      "a grandchild sees its parent alive, then, once the parent was terminated, ended (Python's test_parent_process; not for threads)",
      async () => {
        for (const lookAfter of [false, true]) {
          const [r, w] = mp.Pipe(false);
          const parentEnded = lookAfter ? mp.Event() : null;
          const p = new mp.Process({ target: targets.startParentReporter, args: [w, parentEnded] });
          p.start();
          try {
            expect(r.poll(CHILD_TIMEOUT)).toBe(true);
            expect(await r.recv()).toBe(lookAfter ? "waiting" : "alive");
            p.terminate();
            await p.join(CHILD_TIMEOUT);
            expect(p.exitCode).toBe(-15);
            // The grandchild's first look at its parent comes only now: the parent is gone.
            parentEnded?.set();
            expect(r.poll(CHILD_TIMEOUT)).toBe(true);
            expect(await r.recv()).toBe("not alive");
          } finally {
            if (p.exitCode === null) p.kill();
            await p.join(CHILD_TIMEOUT);
            r.close();
            w.close();
          }
        }
      },
    );

    test("terminate() ends a child blocked in a library wait: parentProcess().joinSync(60 s) (#18)", async () => {
      const ready = mp.Event();
      const p = new mp.Process({ target: targets.joinParentThenReport, args: [ready, 60_000] });
      p.start();
      expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
      p.terminate();
      await p.join(CHILD_TIMEOUT); // far below the child's own 60 s wait
      const code = p.exitCode;
      if (code === null) p.kill(); // so a failure does not leave it behind
      await p.join(CHILD_TIMEOUT);
      expect(code).toBe(-15);
    });

    test("Process.terminate() gives -15 though the parent listens to SIGTERM (#16), at once and once running", async () => {
      let heard = 0;
      const listener = () => {
        heard += 1;
      };
      process.on("SIGTERM", listener);
      try {
        for (const wait of [false, true]) {
          const ready = mp.Event();
          const p = new mp.Process({ target: targets.setThenHang, args: [ready] });
          p.start();
          if (wait) expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
          p.terminate();
          await p.join(CHILD_TIMEOUT);
          if (p.exitCode === null) p.kill(); // so a failure does not leave it behind
          await p.join(CHILD_TIMEOUT);
          expect([wait, p.exitCode]).toEqual([wait, -15]);
        }
      } finally {
        process.off("SIGTERM", listener);
      }
      expect(heard).toBe(0); // the parent's listener never ran for the child's signal
    });

    test("Process.kill() gives exitCode -9", async () => {
      const p = new mp.Process({ target: targets.hang });
      p.start();
      p.kill();
      p.joinSync(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(-9);
    });

    test("Process.join(timeout) returns while the child still runs", async () => {
      const p = new mp.Process({ target: targets.hang });
      p.start();
      const t0 = performance.now();
      await p.join(100);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
      expect(p.exitCode).toBeNull();
      expect(p.isAlive()).toBe(true);
      p.joinSync(50);
      expect(p.isAlive()).toBe(true);
      expect(activeChildren()).toContain(p);
      p.kill();
      await p.join(CHILD_TIMEOUT);
      expect(activeChildren()).not.toContain(p);
    });

    test("Process.join(-1) and joinSync(-1) do not wait (Python: a negative timeout is 0); NaN is a RangeError", async () => {
      const p = new mp.Process({ target: targets.hang });
      p.start();
      try {
        const t0 = performance.now();
        await p.join(-1);
        p.joinSync(-1);
        p.joinSync(Number.NEGATIVE_INFINITY);
        expect(performance.now() - t0).toBeLessThan(NO_WAIT_MS);
        expect(p.exitCode).toBeNull();
        expect(p.isAlive()).toBe(true);
        await expect(p.join(Number.NaN)).rejects.toThrow(/Process\.join timeout .*got NaN/);
        expect(() => p.joinSync("1" as unknown as number)).toThrow(/Process\.join timeout .*got "1"/);
      } finally {
        p.kill();
      }
      // join(-1) also reaps a child that has ended.
      const deadline = performance.now() + CHILD_TIMEOUT;
      while (p.exitCode === null && performance.now() < deadline) {
        await p.join(-1);
        await Bun.sleep(5);
      }
      expect(p.exitCode).toBe(-9);
    });

    test("a non-daemon child of a terminated child lives on; a daemon one ends with its parent (#18 point 4)", async () => {
      const normal = s.file("grandchild-normal");
      const daemon = s.file("grandchild-daemon");
      const go = s.file("grandchildren-go");
      const started = mp.Event();
      const parent = new mp.Process({ target: targets.parentOfTwo, args: [normal, daemon, go, started] });
      parent.start();
      expect(await started.wait(CHILD_TIMEOUT)).toBe(true);
      parent.terminate();
      await parent.join(CHILD_TIMEOUT);
      expect(parent.exitCode).toBe(-15);
      await Bun.sleep(200); // the daemon grandchild's end follows its parent's
      writeFileSync(go, "go");
      const deadline = performance.now() + CHILD_TIMEOUT;
      while (!existsSync(normal) && performance.now() < deadline) await Bun.sleep(20);
      expect(existsSync(normal) ? readFileSync(normal, "utf8") : "no report").toBe("alive");
      await Bun.sleep(200);
      expect(existsSync(daemon)).toBe(false);
    });

    test("an Event a child passes on to its own child still works once that child is terminated", async () => {
      const go = s.file("event-go");
      const q = mp.Queue<Event>();
      const event = mp.Event();
      const started = mp.Event();
      const parent = new mp.Process({ target: targets.passEventOn, args: [q, event, go, started] });
      parent.start();
      try {
        expect(await started.wait(CHILD_TIMEOUT)).toBe(true);
        parent.terminate();
        await parent.join(CHILD_TIMEOUT);
        expect(parent.exitCode).toBe(-15);
        // Only now does the grandchild take the Event, as its parent put it: mapped through another holder.
        writeFileSync(go, "go");
        expect(await event.wait(CHILD_TIMEOUT)).toBe(true);
      } finally {
        q.close();
      }
    });

    test("a child's getStartMethod() is the method that started it, and its module-level Process starts grandchildren that way (#18)", async () => {
      // The parent's default (and the environment a child takes on) name another method.
      const other = s.backend === "spawn" ? "worker" : "spawn";
      const env = process.env.MULTIPROC_BACKEND;
      const out = s.file("start-method");
      process.env.MULTIPROC_BACKEND = other;
      setStartMethod(other, { force: true });
      let p: Awaited<ReturnType<typeof run>>;
      try {
        p = await run(new mp.Process({ target: reportStartMethod, args: [out, 1] }));
      } finally {
        setStartMethod(s.backend, { force: true });
        if (env === undefined) delete process.env.MULTIPROC_BACKEND;
        else process.env.MULTIPROC_BACKEND = env;
      }
      expect(p.exitCode).toBe(0);
      const r = readJson<StartReport>(out);
      expect({ ...r, pid: 0, grandchild: { ...r.grandchild, pid: 0 } }).toEqual({
        method: s.backend,
        contextMethod: s.backend,
        pid: 0,
        grandchildExit: 0,
        grandchild: { method: s.backend, contextMethod: s.backend, pid: 0 },
        refused: `ConfigError: Start method has already been set to "${s.backend}" (the method that started this process); pass { force: true } to change it to "${other}"`,
        forced: other,
      });
      // A worker grandchild is a thread of the child; the others are processes of their own.
      if (s.caps.separateProcess) expect(r.grandchild!.pid).not.toBe(r.pid);
      else expect(r.grandchild!.pid).toBe(r.pid);
    });

    test("ctx.getContext() is ctx; ctx.setStartMethod() on a bound context throws ProcessError and keeps the default (#18)", () => {
      const other = s.backend === "spawn" ? "worker" : "spawn";
      expect(mp.getContext()).toBe(mp);
      expect(mp.getContext(s.backend)).toBe(mp);
      expect(mp.getContext(other)).toBe(getContext(other));
      expect(mp.getContext(other).getContext()).toBe(getContext(other));
      const before = getStartMethod();
      expect(() => mp.setStartMethod(other)).toThrow(ProcessError);
      expect(() => mp.setStartMethod(other, { force: true })).toThrow(
        `Cannot set the start method of the "${s.backend}" context: it is bound to "${s.backend}"`,
      );
      expect(() => mp.setStartMethod(s.backend)).toThrow(ProcessError);
      expect(getStartMethod()).toBe(before);
      expect(mp.getStartMethod()).toBe(s.backend);
      // The default context: itself, and Python's rule for a second setStartMethod.
      const dflt = getContext();
      expect(dflt.getContext()).toBe(dflt);
      dflt.setStartMethod(before);
      expect(() => dflt.setStartMethod(other)).toThrow(ConfigError);
      expect(getStartMethod()).toBe(before);
    });

    test("Process.joinSync() blocks until the child ends", () => {
      const p = new mp.Process({ target: targets.sleepThen, args: [100, "ok"] });
      p.start();
      p.joinSync(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
    });

    test("Process misuse throws ProcessError", async () => {
      const p = new mp.Process({ target: targets.hang });
      expect(() => p.joinSync()).toThrow(ProcessError);
      await expect(p.join()).rejects.toThrow(ProcessError);
      expect(() => p.terminate()).toThrow(ProcessError);
      p.start();
      expect(() => p.start()).toThrow(/twice/);
      expect(() => p.close()).toThrow(/still running/);
      p.kill();
      await p.join(CHILD_TIMEOUT);
      p.close();
      expect(() => p.start()).toThrow(ProcessError);
      expect(() => p.pid).toThrow(ProcessError);
      expect(() => p.exitCode).toThrow(ProcessError);
      expect(() => p.isAlive()).toThrow(ProcessError);
      expect(() => {
        p.daemon = true;
      }).toThrow(ProcessError);
    });

    test("Process exported subclass: fields travel, constructor is not run again", async () => {
      const out = s.file("subclass");
      const p = new targets.Reporter(out, { list: [1, 2], set: new Set(["a"]) });
      await run(p);
      expect(p.exitCode).toBe(0);
      expect(readJson(out)).toEqual({
        name: p.name,
        constructed: 1,
        payload: { list: [1, 2], set: { Set: ["a"] } },
        isReporter: true,
      });
    });

    test.skipIf(s.caps.inheritsMemory)("Process.start() refuses an unexported target with PicklingError", () => {
      let local = 0;
      const p = new mp.Process({ target: () => local++ });
      expect(() => p.start()).toThrow(PicklingError);
      // An arrow is named after the option key it was written under ("target"): the error does not say so.
      expect(() => p.start()).toThrow(/target is <anonymous function>, which is not exported/);
      expect(p.pid).toBeUndefined();
      function helper() {
        return local;
      }
      expect(() => new mp.Process({ target: helper }).start()).toThrow(/target is function "helper", which is not/);
      class Local extends mp.Process {}
      expect(() => new Local().start()).toThrow(/class "Local" is not exported/);
    });

    test.skipIf(s.caps.inheritsMemory)("Process.start() names the unsendable argument's path", () => {
      const target = targets.noop as (...args: unknown[]) => void;
      const p = new mp.Process({ target, args: [1, { handler: () => 0 }] });
      try {
        p.start();
        throw new Error("start() should have thrown");
      } catch (e) {
        expect(e).toBeInstanceOf(PicklingError);
        expect((e as PicklingError).path).toBe("args[1].handler");
        expect((e as Error).message).toContain("args[1].handler");
      }
    });

    // Each module a child loads costs its start time: it loads the class of each library object it is sent, no more.
    // Skipped on fork for good, not pending an issue: a fork child starts with every module its parent loaded.
    test.skipIf(s.caps.inheritsMemory)(
      "a child sent a Lock (and an Error) loads the Lock's module and none of the queues', pipes', shared memory's or Pool's",
      async () => {
        const out = s.file("loaded");
        const args: [Lock, string, unknown] = [mp.Lock(), out, new RangeError("sent along")];
        const p = await run(new mp.Process({ target: lean.reportLoadedCore, args }));
        expect(p.exitCode).toBe(0);
        const { loaded, received } = readJson<{ loaded: string[]; received: string }>(out);
        expect(received).toBe("RangeError: sent along");
        expect(loaded).toContain("sync/lock.ts");
        expect(
          loaded.filter((file) => /^(channel\/(queue|connection|pipe)|shared\/(value|array)|pool\/)/.test(file)),
        ).toEqual([]);
        // The public entry (index.ts) may be loaded: a worker's spare loads it while it waits, ahead of its start.
        expect(loaded).not.toContain("internal.ts");
      },
    );
  });
}
