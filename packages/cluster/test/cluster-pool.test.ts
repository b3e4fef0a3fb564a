/** Pool({ cluster, name }) against `multiproc worker` hosts on a test broker (#22). */
import { describe, expect, test } from "bun:test";
import { ConfigError, PicklingError, Pool, ProcessError, TimeoutError } from "@multiproc/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { skipReason, useBrokerAndHosts } from "./broker.ts";
import { add, failCustom, failRange, slowSquare, square, TaskFailed } from "./fixtures/tasks.ts";

const NAME = "pooltest";

describe.skipIf(skipReason !== undefined)("cluster Pool", () => {
  const setup = useBrokerAndHosts({ name: NAME });
  const pool = () => Pool({ cluster: setup.broker.cluster, name: NAME });

  test("Pool.apply and applyAsync run an exported function on a worker host", async () => {
    await using p = pool();
    expect(await p.apply(square, [7])).toBe(49);
    const r = p.applyAsync(add, [2, 3]);
    expect(await r.get(10_000)).toBe(5);
    expect(r.successful()).toBe(true);
  });

  test("Pool.map, mapAsync and starmap give every result once, in order", async () => {
    await using p = pool();
    const items = Array.from({ length: 500 }, (_, i) => i);
    expect(await p.map(square, items)).toEqual(items.map((x) => x * x));
    expect(await p.map(square, items, 7)).toEqual(items.map((x) => x * x));
    expect(await p.mapAsync(square, [1, 2, 3]).get(10_000)).toEqual([1, 4, 9]);
    expect(await p.map(square, [])).toEqual([]);
    expect(
      await p.starmap(add, [
        [1, 2],
        [3, 4],
      ] as [number, number][]),
    ).toEqual([3, 7]);
  });

  test("Pool.imap yields in order and imapUnordered yields every result, from a generator", async () => {
    await using p = pool();
    function* gen() {
      for (let i = 0; i < 100; i++) yield i;
    }
    const ordered: number[] = [];
    for await (const v of p.imap(square, gen(), 3)) ordered.push(v);
    expect(ordered).toEqual([...gen()].map((x) => x * x));
    const unordered: number[] = [];
    for await (const v of p.imapUnordered(slowSquare, gen())) unordered.push(v);
    expect(unordered.sort((a, b) => a - b)).toEqual([...gen()].map((x) => x * x));
  });

  test("Pool.imap reads its input a bounded number of chunks ahead of the consumer", async () => {
    await using p = pool();
    let read = 0;
    function* endless() {
      for (let i = 0; ; i++) {
        read++;
        yield i;
      }
    }
    const it = p.imap(square, endless(), 10)[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) expect((await it.next()).value).toBe(i * i);
    await Bun.sleep(200);
    // 32 chunks of 10 ahead at most (cluster-imap.ts), whatever the hosts' speed.
    expect(read).toBeLessThanOrEqual(50 + 33 * 10);
    await it.return?.();
  });

  test("Pool drops the results it read from the broker as it goes, and the rest when it disconnects", async () => {
    const nc = await connect({ servers: setup.broker.url, token: setup.broker.token });
    const jsm = await jetstreamManager(nc);
    const stored = async () => (await jsm.streams.info(`MULTIPROC_${NAME}_RESULTS`)).state.messages;
    const before = await stored();
    const p = pool();
    const items = Array.from({ length: 2100 }, (_, i) => i);
    expect(await p.map(square, items, 1)).toEqual(items.map((x) => x * x));
    const deadline = performance.now() + 5000;
    while ((await stored()) - before > 2100 - 2048 && performance.now() < deadline) await Bun.sleep(20);
    expect((await stored()) - before).toBeLessThanOrEqual(2100 - 2048);
    p.close();
    await p.join();
    expect((await stored()) - before).toBe(0);
    await nc.close();
  });

  test("Pool.imap yields the results before an input error, then throws it", async () => {
    await using p = pool();
    function* broken() {
      yield 1;
      yield 2;
      throw new Error("input broke");
    }
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const v of p.imap(square, broken())) got.push(v);
      })(),
    ).rejects.toThrow("input broke");
    expect(got).toEqual([1, 4]);
  });

  test("A task's error reaches the caller with its class", async () => {
    await using p = pool();
    const e1 = await p.apply(failRange, [3]).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RangeError);
    expect((e1 as Error).message).toContain("bad item 3");
    const e2 = await p.map(failRange, [1, 2, 3, 4], 1).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(RangeError);
    const e3 = await p.apply(failCustom, ["custom"]).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(TaskFailed);
    expect((e3 as Error).message).toBe("custom");
  });

  test("Pool mistakes throw at the call", () => {
    using p = pool();
    expect(() => p.apply(((x: number) => x) as typeof square, [1])).toThrow(PicklingError);
    expect(() => p.applySync(square, [1])).toThrow(/await pool\.apply/);
    expect(() => p.mapSync(square, [1])).toThrow(ConfigError);
    expect(() => p.applyAsync(square, [1]).getSync()).toThrow(/await result\.get\(\)/);
    expect(() => p.map(square, [1], 0)).toThrow(RangeError);
    expect(() => Pool({ cluster: { servers: setup.broker.url }, name: "bad name" })).toThrow(ConfigError);
    expect(() => Pool({ cluster: { servers: setup.broker.url }, name: "x", processes: 2 } as never)).toThrow(
      /Unknown option "processes"/,
    );
    expect(() => Pool({ cluster: { servers: 42 } as never, name: "x" })).toThrow(/cluster\.servers/);
  });

  test("Pool.applyAsync calls of one turn go as a few messages, each result delivered to its own call once", async () => {
    const nc = await connect({ servers: setup.broker.url, token: setup.broker.token });
    const jsm = await jetstreamManager(nc);
    const sent = async () => (await jsm.streams.info(`MULTIPROC_${NAME}`)).state.last_seq;
    try {
      await using p = pool();
      await p.apply(square, [1]); // Connected, so the count below is this test's own.
      const before = await sent();
      const calls = new Array<number>(1000).fill(0);
      // One synchronous run: 1 000 calls of square and 10 of failRange.
      const squares = calls.map((_, i) => p.applyAsync(square, [i], { callback: () => calls[i]!++ }));
      const failures = Array.from({ length: 10 }, (_, i) => p.applyAsync(failRange, [i]));
      expect(await Promise.all(squares.map((r) => r.get(20_000)))).toEqual(calls.map((_, i) => i * i));
      // failRange fails item 3 only: one error in a batch fails its own call, not the others.
      for (const [i, f] of failures.entries()) {
        if (i !== 3) expect(await f.get(20_000)).toBe(i);
      }
      await expect(failures[3]!.get(20_000)).rejects.toThrow(new RangeError("bad item 3"));
      await Bun.sleep(200); // A second delivery of any result would have run its callback by now.
      expect(calls.every((n) => n === 1)).toBe(true);
      // 1 000 calls in batches of at most 512, and one batch of 10.
      expect((await sent()) - before).toBe(3);
    } finally {
      await nc.close();
    }
  }, 30_000);

  test("Pool.applyAsync timeout and signal work as on the local Pool", async () => {
    await using p = pool();
    const timedOut = await p
      .applyAsync(slowSquare, [2, 5000], { timeout: 200 })
      .get(10_000)
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborted = p.applyAsync(slowSquare, [2, 5000], { signal: controller.signal });
    controller.abort(new Error("stop it"));
    await expect(aborted.get(1000)).rejects.toThrow("stop it");
    let called: number | undefined;
    await p.applyAsync(square, [6], { callback: (v) => (called = v) }).get(10_000);
    expect(called).toBe(36);
  });

  test("Pool.close and join wait for the results sent; terminate fails the rest", async () => {
    const p = pool();
    const r = p.applyAsync(slowSquare, [5, 100]);
    p.close();
    expect(() => p.apply(square, [1])).toThrow(ProcessError);
    await p.join();
    expect(await r.get(0)).toBe(25);
    const q = pool();
    const slow = q.applyAsync(slowSquare, [5, 5000]);
    q.terminate();
    await expect(slow.get(1000)).rejects.toThrow(ProcessError);
    await q.join();
  });
});
