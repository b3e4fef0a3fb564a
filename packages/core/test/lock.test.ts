import { describe, expect, test } from "bun:test";
import { Lock, RLock, TimeoutError } from "../src/index.ts";

describe("Lock (one process)", () => {
  test("Lock.acquireSync() and release() follow Python's rules", () => {
    const lock = Lock();
    expect(lock.acquireSync()).toBe(true);
    expect(lock.acquireSync({ block: false })).toBe(false);
    const t0 = performance.now();
    expect(lock.acquireSync({ timeout: 50 })).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    lock.release();
    expect(() => lock.release()).toThrow(/not locked/);
    expect(lock.acquireSync({ block: false })).toBe(true);
    lock.release();
  });

  test("Lock.acquire() resolves without blocking the event loop", async () => {
    const lock = Lock();
    await lock.acquire();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    expect(await lock.acquire({ timeout: 60 })).toBe(false);
    clearInterval(timer);
    // A blocking wait would let no tick run before clearInterval; a count above
    // one would measure the machine's load, not the lock.
    expect(ticks).toBeGreaterThan(0);
    setTimeout(() => lock.release(), 20);
    expect(await lock.acquire({ timeout: 2000 })).toBe(true);
    lock.release();
    expect(await lock.acquire({ block: false })).toBe(true);
    lock.release();
  });

  test("Lock.holdSync() releases at the end of a using block", () => {
    const lock = Lock();
    {
      using _held = lock.holdSync();
      expect(lock.acquireSync({ block: false })).toBe(false);
    }
    expect(lock.acquireSync({ block: false })).toBe(true);
    expect(() => lock.holdSync({ timeout: 10 })).toThrow(TimeoutError);
    lock.release();
  });

  test("Lock rejects a bad timeout; a negative one does not wait (Python)", () => {
    expect(() => Lock().acquireSync({ timeout: Number.NaN })).toThrow(RangeError);
    const lock = Lock();
    expect(lock.acquireSync({ timeout: -1 })).toBe(true);
    expect(lock.acquireSync({ timeout: -1 })).toBe(false);
    lock.release();
  });
});

describe("RLock (one process)", () => {
  test("RLock re-enters and frees after as many releases", () => {
    const r = RLock();
    expect(r.acquireSync()).toBe(true);
    expect(r.acquireSync()).toBe(true);
    expect(r.depth()).toBe(2);
    r.release();
    expect(r.isMine()).toBe(true);
    r.release();
    expect(r.isMine()).toBe(false);
    expect(() => r.release()).toThrow(/does not own/);
  });

  test("RLock async acquire re-enters too", async () => {
    const r = RLock();
    expect(await r.acquire()).toBe(true);
    expect(await r.acquire({ block: false })).toBe(true);
    r.release();
    r.release();
    {
      using _h = await r.hold();
      expect(r.isMine()).toBe(true);
    }
    expect(r.isMine()).toBe(false);
  });
});
