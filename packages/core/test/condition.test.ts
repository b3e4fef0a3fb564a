import { describe, expect, test } from "bun:test";
import { Condition, Lock, type RLock } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";
import { MAX_WAITERS } from "../src/sync/condition.ts";

describe("Condition (one process)", () => {
  test("Condition.waitSync(timeout) returns false after the timeout, with the lock held again", () => {
    const cond = Condition();
    cond.acquireSync();
    cond.acquireSync(); // depth 2 of its RLock
    const t0 = performance.now();
    expect(cond.waitSync(40)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    const lock = cond.lock as RLock;
    expect(lock.isMine()).toBe(true);
    expect(lock.depth()).toBe(2);
    cond.release();
    cond.release();
  });

  test("Condition.wait/notify need the lock: RangeError otherwise", async () => {
    const cond = Condition();
    expect(() => cond.waitSync(10)).toThrow(/needs the condition's lock held by the caller/);
    await expect(cond.wait(10)).rejects.toThrow(RangeError);
    expect(() => cond.notify()).toThrow(RangeError);
    expect(() => cond.notifyAll()).toThrow(RangeError);
    expect(() => Condition("lock" as unknown as Lock)).toThrow(TypeError);
  });

  test("Condition.notify(n) wakes the n oldest waiters, in order, and never more", async () => {
    const cond = Condition(Lock());
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map(async (i) => {
      await cond.acquire();
      try {
        if (await cond.wait(5000)) order.push(i);
      } finally {
        cond.release();
      }
    });
    await Bun.sleep(20);
    await cond.acquire();
    cond.notify();
    cond.release();
    await Bun.sleep(60);
    expect(order).toEqual([0]);
    await cond.acquire();
    cond.notify(2);
    cond.release();
    await Bun.sleep(60);
    expect(order).toEqual([0, 1, 2]);
    await cond.acquire();
    cond.notify(10); // more than wait: wakes the one left
    cond.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  test("Condition: a waiter that arrives after notify() cannot take the earlier waiter's wake-up", async () => {
    const cond = Condition();
    const woke: string[] = [];
    const first = (async () => {
      await cond.acquire();
      if (await cond.wait(300)) woke.push("first");
      cond.release();
    })();
    await Bun.sleep(20);
    await cond.acquire();
    cond.notify();
    // Still under the lock: a newcomer starts waiting before the first one runs.
    const late = (async () => {
      await cond.acquire();
      woke.push((await cond.wait(150)) ? "late" : "late timed out");
      cond.release();
    })();
    cond.release();
    await Promise.all([first, late]);
    expect(woke.sort()).toEqual(["first", "late timed out"]);
  });

  test("Condition.waitFor returns the predicate's value, or its falsy value after the timeout", async () => {
    const cond = Condition();
    let n = 0;
    const setter = setInterval(() => {
      cond.acquireSync();
      n++;
      cond.notifyAll();
      cond.release();
    }, 10);
    await cond.acquire();
    expect(await cond.waitFor(() => (n >= 3 ? n : 0), 5000)).toBeGreaterThanOrEqual(3);
    expect(await cond.waitFor(() => n < 0, 30)).toBe(false);
    expect(await cond.waitFor(async () => "ok", 30)).toBe("ok");
    cond.release();
    clearInterval(setter);
    cond.acquireSync();
    expect(cond.waitForSync(() => n > 0, 0)).toBe(true);
    expect(cond.waitForSync(() => null, 20)).toBe(null);
    cond.release();
  });

  test(`Condition: at most ${MAX_WAITERS} waiters at once; notifyAll() frees them all`, async () => {
    const cond = Condition();
    const waits: Promise<boolean>[] = [];
    for (let i = 0; i < MAX_WAITERS; i++) {
      cond.acquireSync();
      waits.push(cond.wait(5000)); // claims its slot and releases the lock before returning
    }
    cond.acquireSync();
    await expect(cond.wait(10)).rejects.toThrow(`more than ${MAX_WAITERS} waiters`);
    cond.notifyAll();
    cond.release();
    // Each wait re-acquires and leaves the lock held: release after each.
    const results = await Promise.all(
      waits.map(async (w) => {
        const r = await w;
        cond.release();
        return r;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
  });

  test("Condition travels through the codec with its lock", () => {
    const cond = Condition();
    const cond2 = loads(dumps(cond)) as Condition;
    cond.acquireSync();
    expect((cond2.lock as RLock).isMine()).toBe(true);
    cond2.notify(); // the same lock, held by this thread
    cond.release();
    expect(String(cond2)).toMatch(/^<Condition\(<RLock/);
  });
});
