/** Conformance: a SyncManager started with each backend, its proxies used by children of each backend (Python: multiprocessing.managers). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProcessError, type SyncManager } from "../../src/index.ts";
import * as mt from "../fixtures/manager-targets.ts";
import { square } from "../fixtures/pool-targets.ts";
import { CHILD_TIMEOUT, readJson, run, type Suite } from "./harness.ts";

export function managerTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Manager`, () => {
    let m: SyncManager;
    beforeAll(async () => {
      m = await mp.Manager();
    }, CHILD_TIMEOUT);
    afterAll(async () => {
      await m.shutdown();
    }, CHILD_TIMEOUT);

    test(
      "a child updates a dict, a list and a Namespace passed in args; the parent sees it",
      async () => {
        const d = await m.dict<string, unknown>();
        const l = await m.list<unknown>([1]);
        const ns = await m.Namespace();
        await run(new mp.Process({ target: mt.setInDict, args: [d, "from", "child"] }));
        await run(new mp.Process({ target: mt.appendToList, args: [l, 2n] }));
        await run(new mp.Process({ target: mt.setName, args: [ns, "Bob"] }));
        expect(await d.get("from")).toBe("child");
        expect(await l.copy()).toEqual([1, 2n]);
        expect(String(ns)).toBe("Namespace(name='Bob')");
      },
      CHILD_TIMEOUT,
    );

    test(
      "a proxy sent through a Queue and through a Pipe reaches the same server object in the child",
      async () => {
        const d = await m.dict<string, unknown>();
        const q = mp.Queue<typeof d>();
        const child = new mp.Process({ target: mt.setFromQueue, args: [q, "k"] });
        child.start();
        await q.put(d);
        await child.join(CHILD_TIMEOUT);
        expect(child.exitCode).toBe(0);
        expect(await d.get("k")).toBe("via queue");
        q.close();

        const l = await m.list<unknown>([0]);
        const [here, there] = mp.Pipe();
        const c2 = new mp.Process({ target: mt.appendFromPipe, args: [there] });
        c2.start();
        here.send(l);
        expect(await here.pollAsync(CHILD_TIMEOUT)).toBe(true);
        expect(await here.recv()).toBe(2);
        await c2.join(CHILD_TIMEOUT);
        expect(c2.exitCode).toBe(0);
        expect(await l.copy()).toEqual([0, "via pipe"]);
        here.close();
        there.close();
      },
      CHILD_TIMEOUT,
    );

    test(
      "a proxy stored in a dict proxy stays a proxy in a child (nesting), and one the child stores back too",
      async () => {
        const inner = await m.list<unknown>();
        const other = await m.dict<string, unknown>();
        const outer = await m.dict<string, unknown>({ inner, other });
        await run(new mp.Process({ target: mt.useNested, args: [outer] }));
        expect(await inner.copy()).toEqual(["from child"]);
        const back = (await outer.get("back")) as typeof other;
        expect(await back.get("seen")).toBe(true);
        expect(await other.get("seen")).toBe(true);
      },
      CHILD_TIMEOUT,
    );

    test(
      "Pool: the server's pool (of this backend) maps an exported function; a callback runs in the caller",
      async () => {
        const pool = await m.Pool(2);
        expect(await pool.map(square, [1, 2, 3])).toEqual([1, 4, 9]);
        let pidSeen = -1;
        const r = await pool.applyAsync(square, [5], {
          callback: () => {
            pidSeen = process.pid;
          },
        });
        expect(await r.get(CHILD_TIMEOUT)).toBe(25);
        const deadline = Date.now() + 5000;
        while (pidSeen === -1 && Date.now() < deadline) await Bun.sleep(5);
        expect(pidSeen).toBe(process.pid);
        await pool.terminate();
        await pool.join();
      },
      CHILD_TIMEOUT,
    );

    test(
      "an error of the server's object reaches the caller with its class",
      async () => {
        const l = await m.list();
        const err = (await l.get(3).catch((e: unknown) => e)) as Error;
        expect(err.name).toBe("IndexError");
        expect(err.message).toBe("list index out of range");
        await expect(l.get("x" as never)).rejects.toBeInstanceOf(TypeError);
      },
      CHILD_TIMEOUT,
    );

    test(
      "RLock: owned by the calling process/thread; a child can neither take it nor release it while the parent holds it",
      async () => {
        const rlock = await m.RLock();
        expect(await rlock.acquire()).toBe(true);
        expect(rlock.acquireSync({ block: false })).toBe(true); // re-entry by the owner
        const out = s.file("rlock-foreign");
        await run(new mp.Process({ target: mt.tryForeignRLock, args: [rlock, out] }));
        expect(readJson(out)).toEqual({
          acquired: false,
          release: "RuntimeError: cannot release un-acquired lock: the RLock is owned by another thread or process",
        });
        await rlock.release();
        await rlock.release();
        // Free now: the child takes it twice and gives it back.
        const out2 = s.file("rlock-reenter");
        await run(new mp.Process({ target: mt.reenterRLock, args: [rlock, out2] }));
        expect(readJson(out2)).toEqual({ first: true, second: true });
        expect(await rlock.acquire({ block: false })).toBe(true);
        await rlock.release();
      },
      CHILD_TIMEOUT,
    );

    test(
      "Condition: children waiting (Sync form, waitFor) are woken by a notifyAll from another child",
      async () => {
        const cond = await m.Condition(await m.Lock());
        const state = await m.dict<string, unknown>({ woken: 0 });
        const waiters = [0, 1].map(() => new mp.Process({ target: mt.waitForReady, args: [cond, state] }));
        for (const w of waiters) w.start();
        await run(new mp.Process({ target: mt.notifyReady, args: [cond, state] }));
        for (const w of waiters) await w.join(CHILD_TIMEOUT);
        expect(waiters.map((w) => w.exitCode)).toEqual([0, 0]);
        expect(await state.get("woken")).toBe(2);
      },
      CHILD_TIMEOUT,
    );

    test(
      "a child that ends frees the objects only it referenced; the parent's object it used lives on",
      async () => {
        // A manager of its own: proxies of other tests collected meanwhile would change the count.
        await using m = await mp.Manager();
        const shared = await m.dict<string, unknown>();
        const before = await m._numberOfObjects();
        await run(new mp.Process({ target: mt.makeObjectsAndLeave, args: [m.address!, shared] }));
        expect(await shared.get("child")).toEqual([1, 2]);
        // The server sees the child's connections close a moment after it ended.
        const deadline = Date.now() + 10_000;
        let n = await m._numberOfObjects();
        while (n !== before && Date.now() < deadline) {
          await Bun.sleep(20);
          n = await m._numberOfObjects();
        }
        expect(n).toBe(before);
        await shared.set("after", true);
        expect(await shared.get("after")).toBe(true);
      },
      CHILD_TIMEOUT,
    );

    test(
      "calls after shutdown throw ProcessError",
      async () => {
        const m2 = await mp.Manager();
        const d = await m2.dict({ a: 1 });
        expect(d.getSync("a")).toBe(1);
        await m2.shutdown();
        await expect(d.get("a")).rejects.toBeInstanceOf(ProcessError);
        expect(() => d.getSync("a")).toThrow(ProcessError);
      },
      CHILD_TIMEOUT,
    );
  });
}
