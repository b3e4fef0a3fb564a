/** Conformance: Lock and RLock shared with children. */
import { describe, expect, test } from "bun:test";
import { allocate } from "../../src/arena/arena.ts";
import * as targets from "../fixtures/targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, run, type Suite, waitInChild } from "./harness.ts";

export function lockTests(s: Suite): void {
  const { mp } = s;
  for (const kind of ["Lock", "RLock"] as const) {
    describe(`[${s.backend}] ${kind} across children`, () => {
      test(`${kind}: 4 children x 2000 locked increments give exactly 8000`, async () => {
        const lock = mp[kind]();
        const counter = allocate(4);
        const kids = Array.from(
          { length: 4 },
          () => new mp.Process({ target: targets.incrementLocked, args: [lock, counter.handle(), 2000] }),
        );
        for (const k of kids) k.start();
        for (const k of kids) await k.join(CHILD_TIMEOUT);
        expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0, 0]);
        expect(counter.int32(1)[0]).toBe(8000);
      });

      test(`${kind}.acquireSync({ timeout }) in a child times out while the parent holds it`, async () => {
        const lock = mp[kind]();
        expect(lock.acquireSync()).toBe(true);
        const blocked = await run(new mp.Process({ target: targets.tryLock, args: [lock, 100] }));
        expect(blocked.exitCode).toBe(3);
        lock.release();
        const free = await run(new mp.Process({ target: targets.tryLock, args: [lock, 100] }));
        expect(free.exitCode).toBe(0);
      });

      test(`${kind}: a child blocked in acquireSync gets the lock when the parent releases`, async () => {
        const lock = mp[kind]();
        lock.acquireSync();
        const p = new mp.Process({ target: targets.tryLock, args: [lock, CHILD_TIMEOUT] });
        p.start();
        await Bun.sleep(100);
        expect(p.isAlive()).toBe(true);
        lock.release();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      });

      test(`${kind}.acquire({ timeout: -1 }) in a child does not wait (Python: a negative timeout is 0); NaN is a RangeError`, async () => {
        const lock = mp[kind]();
        lock.acquireSync();
        try {
          for (const call of ["acquireSync", "acquire"] as const) {
            const r = await waitInChild(s, call, lock, -1);
            expect({ call, ...r, ms: 0 }).toEqual({ call, result: false, ms: 0 });
            expect(r.ms).toBeLessThan(NO_WAIT_MS);
          }
          expect(() => lock.acquireSync({ timeout: Number.NaN })).toThrow(/acquire timeout .*got NaN/);
          // An RLock's owner re-enters; a Lock's hold does not wait either.
          if (kind === "Lock") expect(() => lock.holdSync({ timeout: -1 })).toThrow(/not acquired within 0 ms/);
        } finally {
          lock.release();
        }
        expect(lock.acquireSync({ timeout: -5 })).toBe(true);
        lock.release();
      });
    });
  }

  test(`[${s.backend}] Lock.acquire() async in a child waits for the parent's release`, async () => {
    const lock = mp.Lock();
    lock.acquireSync();
    const timesOut = await run(new mp.Process({ target: targets.tryLockAsync, args: [lock, 50] }));
    expect(timesOut.exitCode).toBe(3);
    const p = new mp.Process({ target: targets.tryLockAsync, args: [lock, CHILD_TIMEOUT] });
    p.start();
    await Bun.sleep(100);
    lock.release();
    await p.join(CHILD_TIMEOUT);
    expect(p.exitCode).toBe(0);
  });
}
