/** The queue ring's publication and repair rules, and its side locks, within one process. */
import { describe, expect, test } from "bun:test";
import { Ring, Slot } from "../src/channel/ring.ts";
import { awaitLockFree, lockSync, tryLock, unlock } from "../src/channel/side-lock.ts";

/** A thread id no thread has (pid_max is at most 4194304). */
const DEAD_TID = 0x3fff_fff0;

function put(ring: Ring, text: string): void {
  const bytes = new TextEncoder().encode(text);
  expect(lockSync(ring.writeLock, performance.now() + 5000)).toBe(true);
  try {
    expect(ring.append(bytes, bytes.byteLength, 0)).toBe(true);
  } finally {
    unlock(ring.writeLock);
  }
}

function get(ring: Ring): string | undefined {
  expect(lockSync(ring.readLock, performance.now() + 5000)).toBe(true);
  try {
    const r = ring.peek();
    if (r === undefined) return undefined;
    ring.commit(r);
    return new TextDecoder().decode(r.bytes);
  } finally {
    unlock(ring.readLock);
  }
}

describe("Ring", () => {
  test("Ring: records wrap around the end of a small ring, with filler, in order", () => {
    const ring = Ring.create(0, 1 << 12);
    for (let round = 0; round < 200; round++) {
      put(ring, `item ${round} ${"x".repeat(round % 97)}`);
      put(ring, `second ${round}`);
      expect(get(ring)).toBe(`item ${round} ${"x".repeat(round % 97)}`);
      expect(get(ring)).toBe(`second ${round}`);
    }
    expect(get(ring)).toBeUndefined();
    expect(ring.count()).toBe(0);
    ring.close();
    ring.unmap();
  });

  test("Ring: a full ring refuses, maxsize counts items", () => {
    const ring = Ring.create(2, 1 << 12);
    put(ring, "a");
    put(ring, "b");
    expect(ring.hasRoom(1)).toBe(false);
    get(ring);
    expect(ring.hasRoom(1)).toBe(true);
    const big = Ring.create(0, 1 << 12);
    const chunk = new Uint8Array(1000);
    let n = 0;
    while (big.append(chunk, chunk.byteLength, 0)) n++;
    expect(n).toBe(4);
    for (const r of [ring, big]) {
      r.close();
      r.unmap();
    }
  });

  test("a producer that died after storing PUTS but not TAIL: the next producer takes the count back", () => {
    const ring = Ring.create(0, 1 << 12);
    put(ring, "before");
    const w = ring.words;
    // The dead producer's state: lock held, note written, PUTS stored, TAIL not.
    Atomics.store(w, Slot.WLOCK, DEAD_TID);
    w[Slot.W_PUTS_AFTER] = w[Slot.PUTS]! + 1;
    w[Slot.W_TAIL_BEFORE] = w[Slot.TAIL]!;
    w[Slot.PUTS] = w[Slot.PUTS]! + 1;
    expect(ring.count()).toBe(2);
    put(ring, "after"); // waits one slice, finds the holder dead, takes over and repairs
    expect(ring.count()).toBe(2);
    expect(get(ring)).toBe("before");
    expect(get(ring)).toBe("after");
    expect(ring.count()).toBe(0);
    ring.close();
    ring.unmap();
  });

  test("a consumer that died after storing GETS but not HEAD: the record is taken again", () => {
    const ring = Ring.create(0, 1 << 12);
    put(ring, "one");
    put(ring, "two");
    const w = ring.words;
    Atomics.store(w, Slot.RLOCK, DEAD_TID);
    w[Slot.R_GETS_AFTER] = w[Slot.GETS]! + 1;
    w[Slot.R_HEAD_BEFORE] = w[Slot.HEAD]!;
    w[Slot.GETS] = w[Slot.GETS]! + 1;
    expect(ring.count()).toBe(1);
    expect(get(ring)).toBe("one");
    expect(ring.count()).toBe(1);
    expect(get(ring)).toBe("two");
    ring.close();
    ring.unmap();
  });

  test("a half-written note (count noted, position not) is not mistaken for a half-done operation", () => {
    const ring = Ring.create(0, 1 << 12);
    put(ring, "done"); // leaves a complete note: TAIL has moved past W_TAIL_BEFORE
    const w = ring.words;
    Atomics.store(w, Slot.WLOCK, DEAD_TID);
    w[Slot.W_PUTS_AFTER] = w[Slot.PUTS]! + 1; // died right after this store
    put(ring, "next");
    expect(ring.count()).toBe(2);
    ring.close();
    ring.unmap();
  });

  test("lockSync: a dead holder is taken over even when the time is up before any slice ran out", () => {
    // On a loaded machine the spin before the first sleep can use up a short
    // timeout (a get's 200 ms): the waiter must still look at the holder once.
    const ring = Ring.create(0, 1 << 12);
    put(ring, "kept");
    Atomics.store(ring.words, Slot.RLOCK, DEAD_TID);
    expect(lockSync(ring.readLock, performance.now())).toBe(true);
    expect(Atomics.load(ring.words, Slot.RLOCK) & 0x3fff_ffff).not.toBe(DEAD_TID);
    unlock(ring.readLock);
    expect(ring.count()).toBe(1);
    ring.close();
    ring.unmap();
  });

  test("awaitLockFree: a dead holder is taken over even when the time is up", async () => {
    const ring = Ring.create(0, 1 << 12);
    Atomics.store(ring.words, Slot.WLOCK, DEAD_TID);
    expect(await awaitLockFree(ring.writeLock, performance.now())).toBe(true);
    expect(tryLock(ring.writeLock)).toBe(true);
    unlock(ring.writeLock);
    ring.close();
    ring.unmap();
  });

  test("tryLock / unlock: a held lock is not taken, a free one is", () => {
    const ring = Ring.create(0, 1 << 12);
    expect(tryLock(ring.readLock)).toBe(true);
    expect(tryLock(ring.readLock)).toBe(false);
    expect(lockSync(ring.readLock, performance.now() + 20)).toBe(false); // held by this live thread
    unlock(ring.readLock);
    expect(tryLock(ring.readLock)).toBe(true);
    unlock(ring.readLock);
    ring.close();
    ring.unmap();
  });
});
