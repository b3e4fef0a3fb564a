/** Queue, JoinableQueue, SimpleQueue and their parts within one process. */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import { Mailbox } from "../src/channel/mailbox.ts";
import { residentQueue } from "../src/channel/pool-queue.ts";
import {
  Empty,
  Full,
  JoinableQueue,
  PicklingError,
  Pipe,
  ProcessError,
  Queue,
  SimpleQueue,
  TimeoutError,
} from "../src/index.ts";
import { closeFd, memfdWith, readWhole } from "../src/native/index.ts";
import { openFds } from "./fixtures/os-resources.ts";

/** Shared memory this process has mapped and touched, in KiB (RssShmem). */
function shmemKiB(): number {
  const m = /RssShmem:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m?.[1] ?? 0);
}

describe("Queue", () => {
  test("Queue: FIFO order, qsize, empty, full, getNowait/putNowait", () => {
    const q = Queue<unknown>(3);
    expect([q.qsize(), q.empty(), q.full(), q.maxsize]).toEqual([0, true, false, 3]);
    q.putSync("a");
    q.putNowait({ b: [1n, new Date(5)] });
    q.putSync(new Map([[1, new Set([2])]]));
    expect([q.qsize(), q.empty(), q.full()]).toEqual([3, false, true]);
    expect(() => q.putNowait("d")).toThrow(Full);
    expect(q.getNowait()).toBe("a");
    expect(q.getSync()).toEqual({ b: [1n, new Date(5)] });
    expect(q.getSync({ block: false })).toEqual(new Map([[1, new Set([2])]]));
    expect(() => q.getNowait()).toThrow(Empty);
    q.close();
  });

  test("Queue.get/put with a timeout throw Empty/Full after about that long", async () => {
    const q = Queue<number>(1);
    let t0 = performance.now();
    expect(() => q.getSync({ timeout: 60 })).toThrow(Empty);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    t0 = performance.now();
    await expect(q.get({ timeout: 60 })).rejects.toBeInstanceOf(Empty);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    q.putSync(1);
    t0 = performance.now();
    expect(() => q.putSync(2, { timeout: 60 })).toThrow(Full);
    await expect(q.put(2, { timeout: 60 })).rejects.toBeInstanceOf(Full);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    expect(() => q.getSync({ timeout: Number.NaN })).toThrow(RangeError);
    q.close();
  });

  test("Queue.get() (async) resolves when an item is put later, without blocking the loop", async () => {
    const q = Queue<string>();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    setTimeout(() => q.putSync("late"), 60);
    expect(await q.get({ timeout: 2000 })).toBe("late");
    clearInterval(timer);
    // A blocking get would let no tick run (and the put never come); a count
    // above one would measure the machine's load (CI runs the packages at once).
    expect(ticks).toBeGreaterThan(0);
    q.close();
  });

  test("Queue.put() encodes at the call site: an unsendable item throws and nothing is put", () => {
    const q = Queue<unknown>();
    let error: unknown;
    try {
      q.putSync({ ok: 1, bad: [() => 0] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PicklingError);
    expect((error as PicklingError).path).toBe("item.bad[0]");
    expect((error as PicklingError).message).toStartWith("Cannot send item.bad[0]: ");
    expect(q.qsize()).toBe(0);
    q.close();
  });

  test("an unbounded Queue takes 300 000 items with no consumer, and gives them back in order", () => {
    const q = Queue<number>();
    for (let i = 0; i < 300_000; i++) q.putSync(i);
    expect(q.qsize()).toBe(300_000);
    for (let i = 0; i < 300_000; i++) if (q.getSync() !== i) throw new Error(`item ${i} out of order`);
    expect(q.empty()).toBe(true);
    q.close();
  });

  test("Queue items larger than the ring's inline limit travel out of line, in order", () => {
    const q = Queue<unknown>();
    const huge = "z".repeat(20_000_000);
    q.putSync(1);
    q.putSync(huge);
    q.putSync(2);
    expect(q.getSync()).toBe(1);
    expect(q.getSync()).toBe(huge);
    expect(q.getSync()).toBe(2);
    q.close();
  });

  test("the ring gives memory back: 200 MiB through a queue leaves little mapped", () => {
    const q = Queue<Uint8Array>();
    const before = shmemKiB();
    const item = new Uint8Array(256 * 1024).fill(1);
    for (let round = 0; round < 800; round++) {
      q.putSync(item);
      q.getSync();
    }
    expect(shmemKiB() - before).toBeLessThan(8 * 1024);
    q.close();
  });

  test("a small resident ring (the Pool's) reuses its pages: 50 laps hold at most its size", () => {
    const q = residentQueue<Uint8Array>(1 << 20);
    const before = shmemKiB();
    const item = new Uint8Array(64 * 1024).fill(7);
    for (let round = 0; round < 800; round++) {
      q.putSync(item);
      expect(q.getSync()[65_535]).toBe(7);
    }
    expect(shmemKiB() - before).toBeLessThanOrEqual(1024 + 64);
    // An item over an eighth of the ring goes out of line and still arrives.
    const big = new Uint8Array(512 * 1024).fill(9);
    q.putSync(big);
    expect(q.getSync()).toEqual(big);
    q.close();
  });

  test("Queue carries Connections and Queues; a closed queue refuses put and get", () => {
    const q = Queue<unknown>();
    const [a, b] = Pipe();
    const inner = Queue<string>();
    q.putSync({ a, inner });
    a.close();
    const got = q.getSync() as { a: typeof a; inner: Queue<string> };
    got.a.send("through");
    expect(b.recvSync()).toBe("through");
    got.inner.putSync("inside");
    expect(inner.getSync({ timeout: 1000 })).toBe("inside");
    q.close();
    q.close();
    expect(() => q.putSync(1)).toThrow(ProcessError);
    expect(() => q.getSync()).toThrow(ProcessError);
    expect(q.closed).toBe(true);
    for (const x of [got.a, b]) x.close();
    for (const x of [inner, got.inner]) x.close();
  });

  test("Queue is disposable; SimpleQueue has the small API", async () => {
    let kept: Queue;
    {
      using q = Queue();
      kept = q;
    }
    expect(kept.closed).toBe(true);
    const s = SimpleQueue<number>();
    expect(s.empty()).toBe(true);
    await s.put(5);
    s.putSync(6);
    expect([await s.get(), s.getSync()]).toEqual([5, 6]);
    s.close();
  });
});

describe("JoinableQueue", () => {
  test("JoinableQueue.join() waits for taskDone of every item; too many taskDone throws", async () => {
    const q = JoinableQueue<number>();
    q.joinSync(0); // nothing put: returns at once
    q.putSync(1);
    q.putSync(2);
    expect(() => q.joinSync(30)).toThrow(TimeoutError);
    await expect(q.join(30)).rejects.toBeInstanceOf(TimeoutError);
    q.getSync();
    q.taskDone();
    setTimeout(() => {
      q.getSync();
      q.taskDone();
    }, 30);
    await q.join(2000);
    expect(() => q.taskDone()).toThrow(RangeError);
    q.close();
  });
});

describe("Mailbox", () => {
  test("Mailbox.take() drops orphans posted before the record; a missing or wrong datagram is an error naming the numbers", () => {
    const box = Mailbox.create();
    const [x, y, z, w] = ["x", "y", "z", "w"].map((s) => memfdWith(new TextEncoder().encode(s)));
    const before = openFds();
    expect(box.post(5, [x!])).toBe(true); // an orphan: its producer died before publishing
    expect(box.post(6, [y!])).toBe(true);
    const six = box.take(6, 1, 6);
    expect(new TextDecoder().decode(readWhole(six[0]!))).toBe("y");
    expect(() => box.take(7, 1, 7)).toThrow(/expected mailbox sequence number 7, found the mailbox empty/);
    expect(box.post(9, [z!])).toBe(true);
    // 9 is newer but was sent (SEQ is 9): it may be the next item's, so it stays.
    expect(() => box.take(8, 1, 9)).toThrow(/expected mailbox sequence number 8, received 9/);
    const nine = box.take(9, 1, 9);
    // A forged number past SEQ is taken out, its descriptor closed; the real datagram behind it is then an orphan.
    expect(box.post(12, [w!])).toBe(true);
    expect(box.post(10, [x!])).toBe(true);
    expect(() => box.take(10, 1, 10)).toThrow(/expected mailbox sequence number 10, received 12/);
    expect(box.take(10, 1, 10)).toHaveLength(1);
    // The right number with the wrong count of descriptors: an error, the descriptors closed.
    expect(box.post(11, [])).toBe(true);
    expect(() => box.take(11, 1, 11)).toThrow(/datagram 11 carried 0 descriptors, its record says 1/);
    for (const fd of [...six, ...nine]) closeFd(fd);
    expect(openFds()).toBe(before + 1); // the last take's descriptor, still ours
    box.close();
    for (const fd of [x!, y!, z!, w!]) closeFd(fd);
  });
});

describe("Queue: async and sync calls on one thread", () => {
  test("a get() not awaited yet does not hold the side lock against a getSync() of the same thread", async () => {
    const q = Queue<number>();
    q.putSync(1);
    q.putSync(2);
    // get() runs up to its first await at once; getSync() then runs before it resumes.
    const later = q.get({ timeout: 1000 });
    expect(q.getSync({ timeout: 1000 })).toBeOneOf([1, 2]);
    expect(await later).toBeOneOf([1, 2]);
    const pending = q.put(3);
    q.putSync(4, { timeout: 1000 });
    await pending;
    expect([q.getSync({ timeout: 1000 }), q.getSync({ timeout: 1000 })].sort()).toEqual([3, 4]);
    q.close();
  });
});
