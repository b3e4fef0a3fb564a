/**
 * Managers (Python: multiprocessing.managers; CPython's _TestManagerRestart,
 * _TestDict, _TestList, _TestNamespace, _TestRemoteManager, _TestMyManager),
 * in one process and between two programs. Per-backend behaviour is in
 * conformance/managers.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type AutoProxy,
  BaseManager,
  type Connection,
  Manager,
  Pipe,
  ProcessError,
  type SyncManager,
} from "../src/index.ts";
import { Counter } from "./fixtures/manager-targets.ts";
import { add, fail, square, squareLater } from "./fixtures/pool-targets.ts";

const T = 30_000;

class MyManager extends BaseManager {}
MyManager.register("Counter", Counter);
MyManager.register("Limited", Counter, { exposed: ["increment"] });

describe("SyncManager", () => {
  let m: SyncManager;
  beforeAll(async () => {
    m = await Manager();
  }, T);
  afterAll(async () => {
    await m.shutdown();
  }, T);

  test("dict proxy: Map methods, Python's update/pop/popitem/setDefault/copy, both forms", async () => {
    const d = await m.dict<string, number>({ a: 1 });
    await d.set("b", 2);
    d.setSync("c", 3);
    expect(await d.get("a")).toBe(1);
    expect(d.getSync("zz")).toBeUndefined();
    expect(await d.get("zz", 9)).toBe(9);
    expect(await d.has("b")).toBe(true);
    expect(await d.size()).toBe(3);
    expect(await d.keys()).toEqual(["a", "b", "c"]);
    expect(d.valuesSync()).toEqual([1, 2, 3]);
    await d.update({ d: 4 });
    d.updateSync([["e", 5]]);
    expect(await d.pop("e")).toBe(5);
    expect(await d.pop("e", -1)).toBe(-1);
    expect(d.popitemSync()).toEqual(["d", 4]);
    expect(await d.setDefault("f", 6)).toBe(6);
    expect(await d.setDefault("f", 7)).toBe(6);
    const copy = await d.copy();
    expect(copy).toBeInstanceOf(Map);
    expect([...copy]).toEqual([
      ["a", 1],
      ["b", 2],
      ["c", 3],
      ["f", 6],
    ]);
    expect(await d.delete("f")).toBe(true);
    const seen: string[] = [];
    await d.forEach((v, k) => {
      seen.push(`${k}=${v}`);
    });
    expect(seen).toEqual(["a=1", "b=2", "c=3"]);
    const keys: string[] = [];
    for await (const k of d) keys.push(k);
    expect(keys).toEqual(["a", "b", "c"]);
    expect([...d.iterSync()]).toEqual(["a", "b", "c"]);
    await d.clear();
    expect(await d.size()).toBe(0);
  });

  test("dict proxy: a missing key is a KeyError; a dict changed during iteration throws", async () => {
    const d = await m.dict<number, number>([
      [1, 1],
      [2, 2],
    ]);
    const err = await d.pop(3).catch((e: unknown) => e as Error);
    expect((err as Error).name).toBe("KeyError");
    expect((err as Error).stack).toContain("server-types.ts");
    expect(() => m.dictSync().popitemSync()).toThrow("dictionary is empty");
    const it = d.iterSync();
    expect(it.next().value).toBe(1);
    d.setSync(5, 5);
    // The next chunk is refused: the dict changed size since the iteration began (Python's RuntimeError).
    expect(() => [...it]).toThrow("dictionary changed size during iteration");
  });

  test("list proxy: Python's list methods with negative indices", async () => {
    const l = await m.list([3, 1, 2]);
    await l.append(4);
    l.extendSync([5, 6]);
    await l.insert(0, 0);
    expect(await l.length()).toBe(7);
    expect(await l.get(-1)).toBe(6);
    await l.set(-1, 60);
    expect(l.getSync(-1)).toBe(60);
    expect(await l.pop()).toBe(60);
    expect(await l.pop(0)).toBe(0);
    await l.remove(5);
    expect(await l.index(2)).toBe(2);
    expect(await l.count(1)).toBe(1);
    await l.sort();
    expect(await l.copy()).toEqual([1, 2, 3, 4]);
    await l.sort({ reverse: true });
    l.reverseSync();
    expect(await l.slice(1, -1)).toEqual([2, 3]);
    const got: number[] = [];
    for await (const v of l) got.push(v as number);
    expect(got).toEqual([1, 2, 3, 4]);
    expect([...l.iterSync()]).toEqual([1, 2, 3, 4]);
    expect(await l.get(10).catch((e: Error) => e.name)).toBe("IndexError");
    expect(() => l.removeSync(99)).toThrow("not in list");
    expect(await l.index(99).catch((e: Error) => e.name)).toBe("ValueError");
  });

  test("Namespace proxy: attributes through the server; String() is Python's repr", async () => {
    const ns = await m.Namespace();
    ns.name = "Bob";
    ns.age = 30;
    ns._local = "mine";
    expect(ns.name).toBe("Bob");
    expect("age" in ns).toBe(true);
    expect(String(ns)).toBe("Namespace(age=30, name='Bob')");
    delete ns.age;
    expect(String(ns)).toBe("Namespace(name='Bob')");
    expect(() => ns.missing).toThrow("has no attribute 'missing'");
    expect(await ns.getAsync("name")).toBe("Bob");
    // Awaiting a namespace reads no attribute called "then".
    expect(await Promise.resolve(ns)).toBe(ns);
  });

  test("a proxy stored in a dict or list proxy stays a proxy (nesting)", async () => {
    const outer = await m.dict<string, unknown>();
    const inner = await m.list([1]);
    await outer.set("inner", inner);
    const back = (await outer.get("inner")) as typeof inner;
    await back.append(2);
    expect(await inner.copy()).toEqual([1, 2]);
    const l = await m.list<unknown>();
    await l.append(await m.dict({ x: 1 }));
    const d = (await l.get(0)) as Awaited<ReturnType<SyncManager["dict"]>>;
    expect(await d.get("x")).toBe(1);
  });

  test("Value, Array, Lock, Event, Semaphore, Queue, Barrier proxies", async () => {
    const v = await m.Value("i", 1);
    await v.set(2);
    expect(v.value).toBe(2);
    v.value = 3;
    expect(await v.get()).toBe(3);
    const a = await m.Array("d", [1, 2, 3]);
    await a.set(-1, 9);
    expect(await a.toArray()).toEqual([1, 2, 9]);
    expect(a.lengthSync()).toBe(3);
    const lock = await m.Lock();
    expect(await lock.acquire()).toBe(true);
    expect(await lock.acquire({ timeout: 50 })).toBe(false);
    await lock.release();
    {
      using _ = lock.holdSync();
    }
    expect(lock.acquireSync({ block: false })).toBe(true);
    lock.releaseSync();
    const ev = await m.Event();
    const waiting = ev.wait(5000);
    await ev.set();
    expect(await waiting).toBe(true);
    const sem = await m.BoundedSemaphore(1);
    await sem.acquire();
    await sem.release();
    await expect(sem.release()).rejects.toThrow();
    const q = await m.Queue<string>();
    const got = q.get(); // a pending get does not hold up the put
    await q.put("x");
    expect(await got).toBe("x");
    q.putSync("y");
    expect(q.getSync()).toBe("y");
    const b = await m.Barrier(2);
    const [r1, r2] = await Promise.all([b.wait(5000), b.wait(5000)]);
    expect([r1, r2].sort()).toEqual([0, 1]);
  });

  test("RLock proxy: re-entrant for its owner, free once released as often as taken; an unowned release throws", async () => {
    const r = await m.RLock();
    await expect(r.release()).rejects.toThrow("cannot release un-acquired lock");
    expect(await r.acquire()).toBe(true);
    expect(r.acquireSync({ timeout: 10 })).toBe(true);
    await r.release();
    {
      using _ = await r.hold();
    }
    r.releaseSync();
    expect(() => r.releaseSync()).toThrow("cannot release un-acquired lock");
    const err = await r.release().catch((e: Error) => e);
    expect((err as Error).name).toBe("RuntimeError");
  });

  test("Condition proxy: wait times out, over a manager Lock passed in; wait releases it and notify wakes the waiter; without the lock it throws", async () => {
    const c = await m.Condition();
    await expect(c.wait(10)).rejects.toThrow("cannot wait on un-acquired lock");
    await expect(c.notify()).rejects.toThrow("cannot notify on un-acquired lock");
    await c.acquire();
    await c.acquire(); // its default lock is an RLock: wait gives back both levels
    const t0 = performance.now();
    expect(await c.wait(50)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    await c.release();
    await c.release();
    const lock = await m.Lock();
    const c2 = await m.Condition(lock);
    await c2.acquire();
    expect(await lock.acquire({ block: false })).toBe(false); // the Condition is over that very Lock
    const w = c2.wait(5000);
    await Bun.sleep(20);
    expect(await lock.acquire({ timeout: 1000 })).toBe(true); // wait released it
    await c2.notify();
    await lock.release();
    expect(await w).toBe(true);
    await c2.release();
    const sem = await m.Semaphore(1);
    expect(() => m.Condition(sem as never)).toThrow(
      "Condition lock must be a manager Lock or RLock proxy, got <AcquirerProxy",
    );
  });

  test("Condition proxy: waitFor runs the predicate here, until true or the timeout", async () => {
    const c = await m.Condition(await m.RLock());
    const v = await m.Value("i", 0);
    await c.acquire();
    expect(await c.waitFor(async () => (await v.get()) > 0, 30)).toBe(false);
    // Another task sets the value and notifies while waitFor waits (the wait released the lock on the server).
    const setter = (async () => {
      await Bun.sleep(30);
      await v.set(1);
      await c.acquire();
      await c.notify();
      await c.release();
    })();
    const t0 = performance.now();
    expect(await c.waitFor(async () => (await v.get()) > 0, 5000)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(4000);
    await setter;
    await c.release();
  });

  test(
    "dict proxy: values over 1 MiB (out of line, as a memfd) and a Connection travel both ways between small calls",
    async () => {
      // The link and server connections read ahead (#20): descriptors must still reach their message.
      const d = await m.dict<string, unknown>();
      const big = "b".repeat(3 << 20);
      const [x, y] = Pipe();
      for (let i = 0; i < 3; i++) {
        await d.set("big", `${big}${i}`);
        d.setSync("small", i);
        d.setSync("conn", x);
        expect(d.getSync("big")).toBe(`${big}${i}`);
        expect(await d.get("small")).toBe(i);
        const back = (await d.get("conn")) as Connection;
        back.send(`through ${i}`);
        expect(y.poll(5000)).toBe(true);
        expect(y.recvSync()).toBe(`through ${i}`);
        back.close();
      }
      await d.clear();
      x.close();
      y.close();
    },
    T,
  );

  test(
    "calls after shutdown throw ProcessError; shutting down twice is allowed",
    async () => {
      const m2 = await Manager();
      const d = await m2.dict();
      await m2.shutdown();
      await m2.shutdown();
      await expect(d.get("k")).rejects.toBeInstanceOf(ProcessError);
      expect(() => d.getSync("k")).toThrow(ProcessError);
      await expect(m2.dict()).rejects.toBeInstanceOf(ProcessError);
    },
    T,
  );

  test(
    "calls when the server died throw ProcessError, never hang",
    async () => {
      const m2 = await Manager();
      const d = await m2.dict();
      await d.set("a", 1);
      // Kill the server process: every connection sees the end of the stream.
      const proc = (await import("../src/index.ts"))
        .activeChildren()
        .filter((p) => p.name.startsWith("SyncManager"))
        .at(-1);
      expect(proc).toBeDefined();
      // Sent before the kill or refused after it: either way it settles. The
      // handler goes on now: it may reject while the join below waits.
      const idle = d.get("a").catch(() => {});
      proc!.kill();
      await proc!.join(T);
      await idle;
      await expect(d.get("a")).rejects.toBeInstanceOf(ProcessError);
      expect(() => d.setSync("a", 2)).toThrow(ProcessError);
      await m2.shutdown();
    },
    T,
  );
});

describe("Pool proxy", () => {
  test(
    "map, starmap, apply, imap, imapUnordered in both forms; applyAsync/mapAsync give result proxies, callbacks run here",
    async () => {
      await using m2 = await Manager();
      const pool = await m2.Pool(2);
      expect(await pool.map(square, [1, 2, 3])).toEqual([1, 4, 9]);
      expect(pool.mapSync(square, [4], 1)).toEqual([16]);
      expect(
        await pool.starmap(add, [
          [1, 2],
          [3, 4],
        ]),
      ).toEqual([3, 7]);
      expect(pool.starmapSync(add, [[5, 6]])).toEqual([11]);
      expect(await pool.apply(add, [2, 3])).toBe(5);
      expect(pool.applySync(square, [6])).toBe(36);
      const got: number[] = [];
      for await (const v of pool.imap(square, [1, 2, 3])) got.push(v);
      expect(got).toEqual([1, 4, 9]);
      expect([...pool.imapSync(square, [3, 2])]).toEqual([9, 4]);
      const unordered: number[] = [];
      for await (const v of pool.imapUnordered(square, [1, 2, 3])) unordered.push(v);
      expect(unordered.sort()).toEqual([1, 4, 9]);
      // Callbacks are closures of this process: they run here, with this process's state.
      const seen: unknown[] = [];
      let settled!: () => void;
      const done = new Promise<void>((r) => (settled = r));
      const r = await pool.applyAsync(squareLater, [7, 50], {
        callback: (v) => {
          seen.push([v, process.pid]);
          settled();
        },
      });
      expect(await r.get(10_000)).toBe(49);
      await done;
      expect(seen).toEqual([[49, process.pid]]);
      expect(await r.ready()).toBe(true);
      expect(r.successfulSync()).toBe(true);
      const slow = pool.applyAsyncSync(squareLater, [2, 2000]);
      await expect(slow.get(10)).rejects.toMatchObject({ name: "TimeoutError" });
      const errors: string[] = [];
      let failed!: () => void;
      const failedP = new Promise<void>((r) => (failed = r));
      const bad = await pool.applyAsync(fail, ["boom"], {
        errorCallback: (e) => {
          errors.push((e as Error).message);
          failed();
        },
      });
      await failedP;
      expect(errors).toEqual(["boom"]);
      expect(await bad.successful()).toBe(false);
      await expect(pool.apply(fail, ["again"])).rejects.toThrow("again");
      const mr = await pool.mapAsync(square, [1, 2]);
      expect(mr.getSync(10_000)).toEqual([1, 4]);
      const sr = await pool.starmapAsync(add, [[1, 1]]);
      expect(await sr.get(10_000)).toEqual([2]);
      await pool.close();
      await expect(pool.map(square, [1])).rejects.toThrow("Pool is not running");
      await pool.join();
      const p2 = m2.PoolSync(1);
      p2.terminateSync();
      p2.joinSync();
    },
    T,
  );

  test(
    "an unfinished result keeps the server's pool running once the pool's proxy is gone (Python: AsyncResult._pool)",
    async () => {
      await using m2 = await Manager();
      const r = await (async () => {
        const pool = await m2.Pool(1);
        return pool.applyAsync(squareLater, [4, 1500]);
      })();
      // The pool's proxy is collected: the server frees the pool's entry, the result keeps it working.
      const deadline = Date.now() + 10_000;
      let n = await m2._numberOfObjects();
      while (n > 1 && Date.now() < deadline) {
        Bun.gc(true);
        await Bun.sleep(10);
        n = await m2._numberOfObjects();
      }
      expect(n).toBe(1);
      expect(await r.ready()).toBe(false);
      expect(await r.get(10_000)).toBe(16);
    },
    T,
  );

  test(
    "a function that is not exported is refused at the caller",
    async () => {
      await using m2 = await Manager();
      const pool = await m2.Pool(1);
      const local = (x: number) => x + 1;
      await expect(pool.map(local, [1])).rejects.toMatchObject({ name: "PicklingError" });
      await pool.terminate();
    },
    T,
  );
});

describe("proxy references", () => {
  test(
    "a proxy collected here decrefs its object: the server frees it; a live proxy of another object keeps it",
    async () => {
      await using m2 = await Manager();
      const kept = await m2.list([1]);
      const before = await m2._numberOfObjects();
      await (async () => {
        const d = await m2.dict({ a: 1 });
        const again = (await m2.dict({ d })) as unknown as { get(k: string): Promise<unknown> };
        expect(await d.get("a")).toBe(1);
        await again.get("d"); // a second proxy of d in this process (nested): d is freed once both are gone
      })();
      expect(await m2._numberOfObjects()).toBe(before + 2);
      const deadline = Date.now() + 10_000;
      let n = before + 2;
      while (n > before && Date.now() < deadline) {
        Bun.gc(true);
        await Bun.sleep(20);
        n = await m2._numberOfObjects();
      }
      expect(n).toBe(before);
      expect(await kept.get(0)).toBe(1);
      expect(m2._numberOfObjectsSync()).toBe(before);
    },
    T,
  );
  test(
    "a proxy referred to by nothing but its call in flight keeps its object until the reply (Python: the caller's reference)",
    async () => {
      await using m2 = await Manager();
      const pool = await m2.Pool(1);
      const before = await m2._numberOfObjects();
      // As `const r = await pool.applyAsync(...); await r.get()`: once get() is
      // called, only the request in flight refers to the AsyncResult proxy.
      let asked = false;
      const got = (async () => {
        const r = await pool.applyAsync(squareLater, [3, 1000]);
        asked = true;
        return r.get(T);
      })();
      let settled = false;
      got.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      const deadline = Date.now() + T;
      while (!asked && Date.now() < deadline) await Bun.sleep(5);
      while (!settled && Date.now() < deadline) {
        Bun.gc(true);
        await Bun.sleep(10);
        const n = await m2._numberOfObjects();
        // A decref can be sent only by a finalizer, a task after `settled` is set: unsettled, the result is held.
        if (!settled) expect(n).toBe(before + 1);
      }
      expect(await got).toBe(9);
      await pool.terminate();
    },
    T,
  );
});

describe("BaseManager", () => {
  test(
    "register(): a class's public methods are exposed, in both forms; errors keep their class; undefined stays undefined",
    async () => {
      await using m = new MyManager();
      await m.start();
      const c = (await (m as unknown as { Counter(): Promise<AutoProxy> }).Counter()) as AutoProxy;
      expect(await c.increment!(2)).toBe(2);
      expect(c.incrementSync!(3)).toBe(5);
      expect(await c.later!(4)).toBe(8); // a Promise returned by the server's method is awaited there
      const err = await (c.fail!() as Promise<unknown>).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe("counter failed");
      expect((err as Error).stack).toContain("manager-targets.ts");
      expect(c._hidden).toBeUndefined();
      // undefined, null and an undefined inside a value each come back as they were returned.
      expect(await c.reset!()).toBeUndefined();
      expect(c.resetSync!()).toBeUndefined();
      expect(await c.none!()).toBeNull();
      expect(c.noneSync!()).toBeNull();
      expect(await c.holes!()).toEqual([undefined, 0]);
      const limited = (await (m as unknown as { Limited(): Promise<AutoProxy> }).Limited()) as AutoProxy;
      expect(limited.fail).toBeUndefined();
      await expect(limited._callMethod("fail")).rejects.toThrow("not exposed");
    },
    T,
  );

  test(
    "start() twice, or a manager used before start, is a ProcessError",
    async () => {
      const m = new MyManager();
      await expect((m as unknown as { Counter(): Promise<unknown> }).Counter()).rejects.toBeInstanceOf(ProcessError);
      await m.start();
      await expect(m.start()).rejects.toBeInstanceOf(ProcessError);
      await m.shutdown();
    },
    T,
  );
});

describe("remote managers over TCP", () => {
  class Box {
    readonly items: unknown[] = [];
    put(v: unknown): void {
      this.items.push(v);
    }
  }
  const box = new Box();
  class QueueManager extends BaseManager {}
  QueueManager.register("getQueue", () => box);

  test(
    "getServer().serveForever() in this program, connect() from another one (Python docs' example)",
    async () => {
      const m = new QueueManager({ address: ["127.0.0.1", 0], authkey: "secret" });
      const server = m.getServer();
      const serving = server.serveForever();
      const [host, port] = server.address as [string, number];
      const program = new URL("./fixtures/programs/remote-manager-client.ts", import.meta.url).pathname;
      const run = async (key: string) => {
        const p = Bun.spawn([process.execPath, program, host, String(port), key, "hello"], {
          stdout: "pipe",
          stderr: "pipe",
        });
        const timer = setTimeout(() => p.kill(), T);
        const out = await new Response(p.stdout).text();
        await p.exited;
        clearTimeout(timer);
        return JSON.parse(out.trim()) as { ok?: boolean; error?: string };
      };
      expect(await run("secret")).toEqual({ ok: true });
      expect(box.items).toEqual(["hello"]);
      expect(await run("wrong")).toEqual({ error: "AuthenticationError" });
      server.close();
      await serving;
    },
    T,
  );
});
