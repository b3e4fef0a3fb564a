/** Conformance: Queue, JoinableQueue and SimpleQueue shared with children. */
import { existsSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import { lockSync, unlock } from "../../src/channel/side-lock.ts";
import { Mailbox } from "../../src/channel/mailbox.ts";
import { Queue } from "../../src/channel/queue.ts";
import { Ring } from "../../src/channel/ring.ts";
import { Empty } from "../../src/index.ts";
import { allocate } from "../../src/arena/arena.ts";
import * as ct from "../fixtures/channel-targets.ts";
import { openFds, openFdsTo } from "../fixtures/os-resources.ts";
import { putOne, SLOW_IMPORT_MARK } from "../fixtures/slow-import.ts";
import * as targets from "../fixtures/targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, run, type Suite, waitInChild } from "./harness.ts";

/** Checks that every producer's items arrived complete and in its order. */
function expectPerProducerOrder(items: [number, number][], producers: number, count: number): void {
  const next = new Array<number>(producers).fill(0);
  for (const [id, i] of items) {
    expect(i).toBe(next[id]!);
    next[id]! += 1;
  }
  expect(next).toEqual(new Array<number>(producers).fill(count));
}

export function queueTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Queue`, () => {
    test("Queue: 3 producer children x 2000 items reach the parent in per-producer order, none lost", async () => {
      const q = mp.Queue<[number, number]>();
      const kids = [0, 1, 2].map((id) => new mp.Process({ target: ct.produce, args: [q, id, 2000] }));
      for (const k of kids) k.start();
      const items: [number, number][] = [];
      for (let n = 0; n < 6000; n++) items.push(await q.get({ timeout: CHILD_TIMEOUT }));
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0]);
      expectPerProducerOrder(items, 3, 2000);
      expect(q.empty()).toBe(true);
      q.close();
    });

    test("Queue: items put right before process.exit are not lost", async () => {
      const q = mp.Queue<[number, number]>();
      const p = await run(new mp.Process({ target: ct.produce, args: [q, 0, 500, true] }));
      expect(p.exitCode).toBe(0);
      expect(q.qsize()).toBe(500);
      const items: [number, number][] = [];
      for (let n = 0; n < 500; n++) items.push(q.getNowait());
      expectPerProducerOrder(items, 1, 500);
      q.close();
    });

    test("Queue: an item too big for the ring and a Connection, put right before process.exit, arrive", async () => {
      const q = mp.Queue<unknown>();
      const [a, b] = mp.Pipe();
      const p = await run(new mp.Process({ target: ct.putBigAndExit, args: [q, b] }));
      b.close();
      expect(p.exitCode).toBe(0);
      expect(q.getSync({ timeout: CHILD_TIMEOUT })).toBe("b".repeat(12_000_000));
      const conn = q.getSync({ timeout: CHILD_TIMEOUT }) as typeof a;
      conn.send("back");
      expect(a.recvSync()).toBe("still connected");
      expect(a.recvSync()).toBe("back");
      for (const c of [a, conn]) c.close();
      q.close();
    });

    test("Queue: 2 consumer children share the items of the parent, each item once", async () => {
      const q = mp.Queue<unknown>();
      const results = mp.Queue<unknown[]>();
      const kids = [0, 1].map(() => new mp.Process({ target: ct.consume, args: [q, results] }));
      for (const k of kids) k.start();
      for (let i = 0; i < 3000; i++) q.putSync(i);
      q.putSync(null);
      q.putSync(null);
      const got = [results.getSync({ timeout: CHILD_TIMEOUT }), results.getSync({ timeout: CHILD_TIMEOUT })];
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      const all = got.flat() as number[];
      expect(all.length).toBe(3000);
      expect(new Set(all).size).toBe(3000);
      for (const part of got) {
        const nums = part as number[];
        expect(nums).toEqual([...nums].sort((x, y) => x - y)); // one producer: in order
      }
      q.close();
      results.close();
    });

    test("Queue.get({ timeout }) in a child throws Empty after the timeout; an item wakes a blocked child", async () => {
      const q = mp.Queue<unknown>();
      const timedOut = await run(new mp.Process({ target: ct.getWithin, args: [q, 100] }));
      expect(timedOut.exitCode).toBe(3);
      const p = new mp.Process({ target: ct.getWithin, args: [q, CHILD_TIMEOUT] });
      p.start();
      await Bun.sleep(100);
      q.putSync("wake up");
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      q.close();
    });

    test("Queue.get/put and JoinableQueue.join with timeout -1 in a child do not wait (Python); NaN is a RangeError", async () => {
      const q = mp.JoinableQueue<unknown>(1);
      try {
        for (const call of ["Queue.getSync", "Queue.get"] as const) {
          const r = await waitInChild(s, call, q, -1);
          expect(r.error).toMatch(/^Empty: /);
          expect(r.ms).toBeLessThan(NO_WAIT_MS);
        }
        q.putSync("full");
        for (const call of ["Queue.putSync", "Queue.put", "JoinableQueue.joinSync", "JoinableQueue.join"] as const) {
          const r = await waitInChild(s, call, q, -1);
          expect({ call, error: r.error?.split(":")[0] }).toEqual({
            call,
            error: call.startsWith("Queue") ? "Full" : "TimeoutError",
          });
          expect(r.ms).toBeLessThan(NO_WAIT_MS);
        }
        expect(q.getSync({ timeout: -1 })).toBe("full");
        expect(() => q.getSync({ timeout: Number.NaN })).toThrow(/Queue\.get timeout .*got NaN/);
        await expect(q.put(1, { timeout: Number.NaN })).rejects.toThrow(/Queue\.put timeout .*got NaN/);
        expect(() => q.joinSync(Number.NaN)).toThrow(/JoinableQueue\.join timeout .*got NaN/);
        q.taskDone();
        q.joinSync(-1);
      } finally {
        q.close();
      }
    });

    test("Queue(maxsize): a child's put blocks while full and resumes when the parent gets", async () => {
      const q = mp.Queue<[number, number]>(2);
      const p = new mp.Process({ target: ct.produce, args: [q, 0, 10] });
      p.start();
      const items: [number, number][] = [];
      while (items.length < 10) {
        expect(q.qsize()).toBeLessThanOrEqual(2);
        items.push(await q.get({ timeout: CHILD_TIMEOUT }));
      }
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      expectPerProducerOrder(items, 1, 10);
      q.close();
    });

    test("Queue carries structured-clone values and library objects to a child", async () => {
      const q = mp.Queue<unknown>();
      const results = mp.Queue<unknown>();
      const value = { m: new Map([["k", new Set([1n])]]), d: new Date(0), t: new Int16Array([-1, 2]) };
      q.putSync(value);
      await run(new mp.Process({ target: ct.describeItem, args: [q, results] }));
      expect(results.getSync({ timeout: CHILD_TIMEOUT })).toEqual(targets.describe(value));
      q.close();
      results.close();
    });

    test("a Queue, a Lock and a Connection travel through a Queue to a running child", async () => {
      const inbox = mp.Queue<unknown>();
      const done = mp.Queue<unknown>();
      const inner = mp.Queue<unknown>();
      const lock = mp.Lock();
      const [a, b] = mp.Pipe();
      const p1 = new mp.Process({ target: ct.putOnReceived, args: [inbox, "from the child"] });
      const p2 = new mp.Process({ target: ct.holdReceivedLock, args: [inbox, done, 200] });
      p1.start();
      inbox.putSync(inner);
      expect(await inner.get({ timeout: CHILD_TIMEOUT })).toBe("from the child");
      await p1.join(CHILD_TIMEOUT);
      p2.start();
      inbox.putSync(lock);
      expect(await done.get({ timeout: CHILD_TIMEOUT })).toBe("acquired");
      expect(lock.acquireSync({ timeout: 50 })).toBe(false);
      expect(lock.acquireSync({ timeout: CHILD_TIMEOUT })).toBe(true);
      lock.release();
      await p2.join(CHILD_TIMEOUT);
      const p3 = new mp.Process({ target: ct.replyOnReceivedQueue, args: [inbox, "over the queue"] });
      p3.start();
      inbox.putSync(a);
      a.close();
      expect(await b.pollAsync(CHILD_TIMEOUT)).toBe(true);
      expect(b.recvSync()).toBe("over the queue");
      await p3.join(CHILD_TIMEOUT);
      expect([p1.exitCode, p2.exitCode, p3.exitCode]).toEqual([0, 0, 0]);
      for (const q of [inbox, done, inner]) q.close();
      b.close();
    });

    test("Queue: children killed in the middle of puts and gets leave it usable by the others", async () => {
      const q = mp.Queue<number>();
      for (let i = 0; i < 100; i++) q.putSync(i);
      for (let round = 0; round < 3; round++) {
        const kids = [0, 1].map(() => new mp.Process({ target: ct.churn, args: [q] }));
        for (const k of kids) k.start();
        await Bun.sleep(150);
        for (const k of kids) k.kill();
        for (const k of kids) await k.join(CHILD_TIMEOUT);
      }
      // A killed child may have died holding one item between its get and its put; none more.
      // Drained while the ring holds a published record, each get with a child's timeout: a
      // short one (200 ms) could give up on an item still there on a loaded machine, and a
      // get that gives up with items waiting (a dead holder's lock not taken over) fails here
      // as Empty, told apart from a loss, which fails the count below.
      const left: number[] = [];
      while (!q.empty()) left.push(q.getSync({ timeout: CHILD_TIMEOUT }));
      expect(() => q.getSync({ block: false })).toThrow(Empty);
      expect(left.length).toBeGreaterThanOrEqual(100 - 6);
      expect(new Set(left).size).toBe(left.length);
      q.putSync(7);
      expect(await q.get({ timeout: CHILD_TIMEOUT })).toBe(7);
      expect(q.qsize()).toBe(0);
      q.close();
    });

    test("a queue side lock held by a killed child is taken over by the next waiter", async () => {
      const block = allocate(4);
      const lock = { words: block.int32(1), index: 0, address: block.address(0) };
      const p = new mp.Process({ target: ct.holdSideLock, args: [block.handle()] });
      p.start();
      const until = performance.now() + CHILD_TIMEOUT;
      while (Atomics.load(lock.words, 0) === 0 && performance.now() < until) await Bun.sleep(5);
      expect(Atomics.load(lock.words, 0)).not.toBe(0);
      expect(lockSync(lock, performance.now() + 100)).toBe(false); // held by a live child
      p.kill();
      await p.join(CHILD_TIMEOUT);
      const t0 = performance.now();
      expect(lockSync(lock, performance.now() + 5000)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(1000);
      unlock(lock);
    });

    test("Queue: a forged datagram in the descriptor mailbox is an error on that item, not a skip (#16)", async () => {
      // A queue whose mailbox the test holds, so it can post what a hostile writer would.
      const mailbox = Mailbox.create();
      const q = new Queue<unknown>(0, { ring: Ring.create(0), mailbox });
      const [a, b] = mp.Pipe();
      const fdsBefore = openFds();
      expect(mailbox.post(100, [])).toBe(true); // a later sequence number than the item's (it will be 1), no descriptor
      const p = await run(new mp.Process({ target: ct.putConnThenValue, args: [q, b, "after"] }));
      expect(p.exitCode).toBe(0);
      // The Connection's item fails, naming both numbers; nothing after it is skipped or lost.
      expect(() => q.getSync({ timeout: CHILD_TIMEOUT })).toThrow(/expected mailbox sequence number \d+, received 100/);
      expect(q.getSync({ timeout: CHILD_TIMEOUT })).toBe("after");
      expect(() => q.getSync({ timeout: 0 })).toThrow(Empty);
      // The same queue carries a descriptor end to end afterwards.
      q.putSync(a);
      const back = q.getSync({ timeout: CHILD_TIMEOUT }) as typeof a;
      back.send("through");
      expect(b.recvSync()).toBe("through");
      for (const c of [a, b, back]) c.close();
      q.close();
      expect(openFds()).toBeLessThanOrEqual(fdsBefore);
    });

    // A thread's descriptors outlive it: its parent must close the ones it
    // was handed at start, even if no Queue had taken them yet (a process's
    // die with it, so only thread backends can get this wrong).
    test.skipIf(s.caps.separateProcess)(
      "Queue: a thread child terminated while its target's module loads leaves none of the queue's descriptors open",
      async () => {
        const q = mp.Queue<number>();
        const queueFds = () => openFdsTo("socket:", "/memfd:multiproc-queue");
        const before = queueFds();
        const mark = s.file("slow-import");
        process.env[SLOW_IMPORT_MARK] = mark;
        const p = new mp.Process({ target: putOne, args: [q] });
        try {
          p.start();
        } finally {
          delete process.env[SLOW_IMPORT_MARK];
        }
        try {
          // The child is running its bootstrap and waits in the target's module.
          const deadline = performance.now() + CHILD_TIMEOUT;
          while (!existsSync(mark) && performance.now() < deadline) await Bun.sleep(10);
          expect(existsSync(mark)).toBe(true);
          p.terminate();
          await p.join(CHILD_TIMEOUT);
          expect(p.exitCode).toBe(-15);
          expect(queueFds()).toBe(before);
        } finally {
          p.kill();
          q.close();
        }
      },
    );

    test("Queue.put/get (async) in a child", async () => {
      const q = mp.Queue<[number, number]>();
      const p = new mp.Process({ target: ct.produceAsync, args: [q, 0, 300] });
      p.start();
      const items: [number, number][] = [];
      for (let n = 0; n < 300; n++) items.push(q.getSync({ timeout: CHILD_TIMEOUT }));
      await p.join(CHILD_TIMEOUT);
      expectPerProducerOrder(items, 1, 300);
      q.close();
    });

    test("JoinableQueue.join() waits until children marked every item done", async () => {
      const q = mp.JoinableQueue<number>();
      for (let i = 0; i < 40; i++) q.putSync(i);
      const kids = [0, 1].map(() => new mp.Process({ target: ct.worker, args: [q, 20] }));
      for (const k of kids) k.start();
      await q.join(CHILD_TIMEOUT);
      expect(q.qsize()).toBe(0);
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0]);
      expect(() => q.taskDone()).toThrow(RangeError);
      q.joinSync(0);
      q.close();
    });

    test("SimpleQueue between a child and the parent", async () => {
      const q = mp.SimpleQueue<unknown>();
      await run(new mp.Process({ target: ct.simplePut, args: [q, { simple: [1, 2] }] }));
      expect(q.empty()).toBe(false);
      expect(await q.get({ timeout: CHILD_TIMEOUT })).toEqual({ simple: [1, 2] });
      expect(q.empty()).toBe(true);
      q.close();
    });
  });
}
