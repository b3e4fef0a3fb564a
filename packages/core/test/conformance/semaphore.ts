/**
 * Conformance: Semaphore and BoundedSemaphore shared with children, and the
 * dead-holder rule of every SemLock (Lock, RLock, Semaphore): a waiter never
 * hangs on a permit whose holder was killed.
 */
import { describe, expect, test } from "bun:test";
import type { AbandonedLockError, Lock, RLock, Semaphore } from "../../src/index.ts";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, run, type Suite, waitInChild } from "./harness.ts";

export function semaphoreTests(s: Suite): void {
  const { mp } = s;

  describe(`[${s.backend}] Semaphore across children`, () => {
    test("Semaphore(2): four children never hold more than two permits at once", async () => {
      const sem = mp.Semaphore(2);
      const inside = mp.RawArray("i", 2);
      const kids = Array.from(
        { length: 4 },
        () => new mp.Process({ target: targets.useSlot, args: [sem, inside, 80] }),
      );
      for (const k of kids) k.start();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0, 0]);
      expect(inside[0]).toBe(0);
      expect(inside[1]).toBeGreaterThanOrEqual(1);
      expect(inside[1]).toBeLessThanOrEqual(2);
      expect(sem.getValue()).toBe(2);
    });

    for (const async of [false, true]) {
      test(`Semaphore(0) as a signal: a child's ${async ? "acquire" : "acquireSync"} returns after the parent's release`, async () => {
        const sem = mp.Semaphore(0);
        expect((await run(new mp.Process({ target: targets.acquireWithin, args: [sem, 50, async] }))).exitCode).toBe(3);
        const p = new mp.Process({ target: targets.acquireWithin, args: [sem, CHILD_TIMEOUT, async] });
        p.start();
        await Bun.sleep(100);
        expect(p.isAlive()).toBe(true);
        sem.release();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        expect(sem.getValue()).toBe(0);
      });
    }

    test("Semaphore.release() in a child wakes the parent's acquireSync", async () => {
      const sem = mp.Semaphore(0);
      const p = await run(new mp.Process({ target: targets.releaseOnce, args: [sem] }));
      expect(p.exitCode).toBe(0);
      expect(sem.acquireSync({ timeout: 1000 })).toBe(true);
      expect(sem.acquireSync({ block: false })).toBe(false);
    });

    test("BoundedSemaphore: a child's extra release throws, the value stays at its bound", async () => {
      const sem = mp.BoundedSemaphore(2);
      expect(sem.acquireSync()).toBe(true);
      expect((await run(new mp.Process({ target: targets.releaseOnce, args: [sem] }))).exitCode).toBe(0);
      expect(sem.getValue()).toBe(2);
      // The bound holds in the child too: its release fails with an uncaught RangeError.
      expect((await run(new mp.Process({ target: targets.releaseOnce, args: [sem] }))).exitCode).toBe(1);
      expect(() => sem.release()).toThrow(RangeError);
      expect(sem.getValue()).toBe(2);
    });

    test("Semaphore.acquire({ timeout: -1 }) in a child does not wait (Python: a negative timeout is 0)", async () => {
      const sem = mp.Semaphore(0);
      for (const call of ["acquireSync", "acquire"] as const) {
        const r = await waitInChild(s, call, sem, -1);
        expect({ call, ...r, ms: 0 }).toEqual({ call, result: false, ms: 0 });
        expect(r.ms).toBeLessThan(NO_WAIT_MS);
      }
      expect(() => sem.acquireSync({ timeout: Number.NaN })).toThrow(/Semaphore\.acquire timeout .*got NaN/);
      sem.release();
      expect(await sem.acquire({ timeout: -1 })).toBe(true);
      expect(sem.getValue()).toBe(0);
    });
  });

  describe(`[${s.backend}] dead holders (beyond CPython, which hangs)`, () => {
    const kinds = {
      Lock: () => mp.Lock(),
      RLock: () => mp.RLock(),
      Semaphore: () => mp.Semaphore(1),
      BoundedSemaphore: () => mp.BoundedSemaphore(1),
    } as const;

    /** Starts a child that takes `lock` and then sleeps until killed; resolves once it holds it. */
    async function holder(lock: Lock | RLock | Semaphore) {
      const ready = mp.Event();
      const p = new mp.Process({ target: targets.holdUntilKilled, args: [lock, ready] });
      p.start();
      expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
      return p;
    }

    for (const [kind, make] of Object.entries(kinds)) {
      test(`${kind}: a child blocked in acquireSync gets it when the SIGKILLed holder dies, and is told`, async () => {
        const lock = make();
        const h = await holder(lock);
        const ready = mp.Event();
        const told = mp.RawValue("i", 0);
        const waiter = new mp.Process({ target: targets.acquireAfterDeath, args: [lock, ready, told] });
        waiter.start();
        expect(await ready.wait(CHILD_TIMEOUT)).toBe(true);
        await Bun.sleep(150); // let it sleep in the futex
        expect(waiter.isAlive()).toBe(true);
        h.kill();
        await h.join(CHILD_TIMEOUT);
        expect(h.exitCode).toBe(-9);
        await waiter.join(CHILD_TIMEOUT);
        expect(waiter.exitCode).toBe(0);
        // The holder's thread id: its pid, or the worker thread's own id.
        if (s.caps.separateProcess) expect(told.value).toBe(h.pid!);
        else expect(told.value).toBeGreaterThan(0);
        // Usable as usual afterwards.
        expect(lock.acquireSync({ timeout: 1000 })).toBe(true);
        lock.release();
      });
    }

    for (const async of [false, true]) {
      test(`RLock: the parent's ${async ? "acquire" : "acquireSync"} takes over from a killed child with onAbandoned`, async () => {
        const lock = mp.RLock();
        const h = await holder(lock);
        h.kill();
        const seen: AbandonedLockError[] = [];
        const opts = { timeout: CHILD_TIMEOUT, onAbandoned: (e: AbandonedLockError) => seen.push(e) };
        const got = async ? await lock.acquire(opts) : lock.acquireSync(opts);
        expect(got).toBe(true);
        expect(seen).toHaveLength(1);
        expect(seen[0]!.name).toBe("AbandonedLockError");
        expect(seen[0]!.message).toContain("died without releasing it");
        expect(lock.isMine()).toBe(true);
        expect(lock.depth()).toBe(1);
        lock.release();
        expect(lock.acquireSync({ block: false })).toBe(true);
        lock.release();
        await h.join(CHILD_TIMEOUT);
      });
    }

    test("Semaphore(2): both permits of two killed holders come back, one abandonment each", async () => {
      const sem = mp.Semaphore(2);
      const a = await holder(sem);
      const b = await holder(sem);
      expect(sem.getValue()).toBe(0);
      a.kill();
      b.kill();
      let told = 0;
      const opts = { timeout: CHILD_TIMEOUT, onAbandoned: () => told++ };
      expect(sem.acquireSync(opts)).toBe(true);
      expect(sem.acquireSync(opts)).toBe(true);
      expect(told).toBe(2);
      sem.release();
      sem.release();
      expect(sem.getValue()).toBe(2);
      await a.join(CHILD_TIMEOUT);
      await b.join(CHILD_TIMEOUT);
    });

    test("Lock: a timeout still applies while the holder is alive", async () => {
      const lock = mp.Lock();
      const h = await holder(lock);
      let told = 0;
      expect(lock.acquireSync({ timeout: 250, onAbandoned: () => told++ })).toBe(false);
      expect(await lock.acquire({ timeout: 250, onAbandoned: () => told++ })).toBe(false);
      expect(told).toBe(0);
      h.kill();
      await h.join(CHILD_TIMEOUT);
      expect(lock.acquireSync({ timeout: CHILD_TIMEOUT, onAbandoned: () => told++ })).toBe(true);
      expect(told).toBe(1);
      lock.release();
    });
  });
}
