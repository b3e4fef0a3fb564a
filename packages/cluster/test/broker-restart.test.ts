/** The broker restarted mid-run: the map completes (#22 point 3). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pool } from "@multiproc/core";
import { type Broker, type Host, skipReason, startBroker, startHost } from "./broker.ts";
import { slowSquare } from "./fixtures/tasks.ts";

const NAME = "restarttest";

describe.skipIf(skipReason !== undefined)("cluster Pool and a broker restart", () => {
  let broker: Broker;
  let hosts: Host[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    const extra = ["--ack-wait", "1000"];
    hosts = await Promise.all([startHost(broker, NAME, extra), startHost(broker, NAME, extra)]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await broker?.stop();
  }, 30_000);

  test("Pool.map completes with every result once, in order, when the broker restarts mid-run", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: NAME });
    const items = Array.from({ length: 200 }, (_, i) => i);
    const result = pool.mapAsync(slowSquare, items, 1);
    await Bun.sleep(400);
    expect(result.ready()).toBe(false);
    await broker.restart(300);
    expect(await result.get(25_000)).toEqual(items.map((x) => x * x));
  }, 30_000);
});
