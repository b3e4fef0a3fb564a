/** Queue({ cluster, name, maxsize }) on a test broker (#22 point 4). */
import { describe, expect, test } from "bun:test";
import { ConfigError, Empty, Full, PicklingError, ProcessError, Queue } from "@multiproc/core";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { skipReason, useBrokerAndHosts } from "./broker.ts";

describe.skipIf(skipReason !== undefined)("cluster Queue", () => {
  const setup = useBrokerAndHosts();
  const queue = <T>(name: string, maxsize?: number) => Queue<T>({ cluster: setup.broker.cluster, name, maxsize });

  test("Queue.put and get carry items between users of a name, FIFO per producer", async () => {
    await using producer = queue<{ n: number; tag: string }>("fifo");
    await using consumer = queue<{ n: number; tag: string }>("fifo");
    for (let n = 0; n < 50; n++) await producer.put({ n, tag: "x" });
    expect(await consumer.qsizeAsync()).toBe(50);
    const got: number[] = [];
    for (let n = 0; n < 50; n++) got.push((await consumer.get({ timeout: 5000 })).n);
    expect(got).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(await consumer.qsizeAsync()).toBe(0);
  });

  test("Queue: many users opening a new name at once all get the one queue", async () => {
    // They race to create its stream; the losers must find the winner's.
    const users = Array.from({ length: 8 }, () => queue<number>("opened-at-once"));
    try {
      await Promise.all(users.map((q, n) => q.put(n)));
      const got: number[] = [];
      for (let n = 0; n < 8; n++) got.push(await users[0]!.get({ timeout: 5000 }));
      expect(got.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await Promise.all(users.map((q) => q.close()));
    }
  });

  test("Queue.get without block or past its timeout throws Empty", async () => {
    await using q = queue("empty");
    await expect(q.get({ block: false })).rejects.toBeInstanceOf(Empty);
    const t0 = performance.now();
    await expect(q.get({ timeout: 300 })).rejects.toBeInstanceOf(Empty);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  test("Queue.get that timed out leaves an item arriving just after it to the next get", async () => {
    await using q = queue<number>("late");
    await expect(q.get({ timeout: 100 })).rejects.toBeInstanceOf(Empty);
    await q.put(5); // Delivered to the abandoned pull, which hands it back.
    expect(await q.get({ timeout: 5000 })).toBe(5);
  });

  test("Queue.get throws for an item that does not decode, drops it, and the queue goes on", async () => {
    await using q = queue<number>("junk");
    await q.put(1); // The stream exists now.
    expect(await q.get({ timeout: 5000 })).toBe(1);
    const nc = await connect({ servers: setup.broker.url, token: setup.broker.token });
    await jetstream(nc).publish("multiproc.q.junk", new Uint8Array([0xff, 0x00, 0x13]));
    await nc.close();
    await expect(q.get({ timeout: 5000 })).rejects.toThrow();
    await q.put(2);
    expect(await q.get({ timeout: 5000 })).toBe(2);
  });

  test("Queue.get waits for an item put later", async () => {
    await using a = queue<string>("later");
    await using b = queue<string>("later");
    const got = b.get({ timeout: 10_000 });
    await Bun.sleep(100);
    await a.put("hello");
    expect(await got).toBe("hello");
  });

  test("Queue maxsize refuses with Full; a put waits for room until its timeout", async () => {
    await using q = queue<number>("bounded", 2);
    await q.put(1);
    await q.put(2);
    await expect(q.put(3, { block: false })).rejects.toBeInstanceOf(Full);
    await expect(q.put(3, { timeout: 200 })).rejects.toBeInstanceOf(Full);
    const waiting = q.put(3, { timeout: 10_000 });
    expect(await q.get({ timeout: 5000 })).toBe(1);
    await waiting;
    expect(await q.get({ timeout: 5000 })).toBe(2);
    expect(await q.get({ timeout: 5000 })).toBe(3);
    // Another user naming the queue with another maxsize is a mistake.
    await using other = queue<number>("bounded", 5);
    await expect(other.put(1)).rejects.toThrow(/maxsize 2, not 5/);
  });

  test("Queue mistakes throw at the call with the form to use", async () => {
    await using q = queue<unknown>("mistakes");
    expect(() => q.putNowait(1)).toThrow(/put\(obj, \{ block: false \}\)/);
    expect(() => q.getSync()).toThrow(ConfigError);
    expect(() => q.qsize()).toThrow(/qsizeAsync/);
    await expect(q.put(() => 1)).rejects.toBeInstanceOf(PicklingError);
    expect(() => queue("bad name")).toThrow(ConfigError);
    expect(() => queue("x", -1)).toThrow(/maxsize must be/);
    await q.close();
    await expect(q.put(1)).rejects.toBeInstanceOf(ProcessError);
  });

  test("Queue with a wrong token fails with ConfigError naming the server", async () => {
    await using q = Queue({ cluster: { servers: setup.broker.url, token: "wrong" }, name: "auth" });
    const error = await q.put(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
  });

  test("Queue: an item taken by a getter killed before it returned goes to another getter after ackWait, once", async () => {
    const ackWait = 1500;
    await using producer = Queue<number>({ cluster: setup.broker.cluster, name: "dying", ackWait });
    await using getter = Queue<number>({ cluster: setup.broker.cluster, name: "dying", ackWait });
    await producer.put(1);
    await producer.put(2);
    const fixture = new URL("./fixtures/dying-getter.ts", import.meta.url).pathname;
    const dying = Bun.spawn([process.execPath, fixture, setup.broker.url, setup.broker.token, "dying"], {
      stdout: "pipe",
      stderr: "inherit",
    });
    expect(await dying.exited).toBe(137); // SIGKILLed
    expect(await new Response(dying.stdout).text()).toBe("1\n");
    const t0 = performance.now();
    // The item the dead getter held is hidden until its ack wait ends; the other one is not.
    expect(await getter.get({ timeout: 5000 })).toBe(2);
    expect(await getter.get({ timeout: ackWait + 5000 })).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(ackWait - 500);
    await expect(getter.get({ timeout: 300 })).rejects.toBeInstanceOf(Empty);
  }, 30_000);

  test("Queue ackWait: a bad value is a ConfigError, and every user of a name must give the same", async () => {
    expect(() => Queue({ cluster: setup.broker.cluster, name: "acks", ackWait: 10 })).toThrow(ConfigError);
    expect(() => Queue({ cluster: setup.broker.cluster, name: "acks", ackWait: 1.5 })).toThrow(/ackWait/);
    await using first = Queue<number>({ cluster: setup.broker.cluster, name: "acks", ackWait: 2000 });
    await first.put(1);
    await using other = Queue<number>({ cluster: setup.broker.cluster, name: "acks" });
    await expect(other.put(2)).rejects.toThrow(/exists with ackWait 2000 ms, not 30000/);
  });

  test("Queue items put before a broker restart are there after it", async () => {
    await using q = queue<number>("restart");
    await q.put(7);
    await q.put(8);
    await setup.broker.restart(200);
    expect(await q.get({ timeout: 10_000 })).toBe(7);
    await q.put(9);
    expect(await q.get({ timeout: 10_000 })).toBe(8);
    expect(await q.get({ timeout: 10_000 })).toBe(9);
  }, 30_000);
});
