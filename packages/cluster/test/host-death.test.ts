/** A worker host SIGKILLed mid-map gives its tasks back after the ack wait (#22 point 3). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pool } from "@multiproc/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Broker, type Host, skipReason, startBroker, startHost } from "./broker.ts";
import { slowSquare, slowTagged } from "./fixtures/tasks.ts";

const NAME = "deathtest";
const ACK_WAIT = 1000;

describe.skipIf(skipReason !== undefined)("cluster Pool and a dying host", () => {
  let broker: Broker;
  let hosts: Host[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    const extra = ["--ack-wait", String(ACK_WAIT)];
    hosts = await Promise.all([startHost(broker, NAME, extra), startHost(broker, NAME, extra)]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await broker?.stop();
  }, 30_000);

  test("multiproc worker holds at most 8 tasks per local process, leaving the rest to other hosts", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: "bounded" });
    const host = await startHost(broker, "bounded"); // 2 processes
    const nc = await connect({ servers: broker.url, token: broker.token });
    try {
      const items = Array.from({ length: 60 }, (_, i) => [i, 300] as [number, number]);
      const result = pool.starmapAsync(slowSquare, items, 1);
      await Bun.sleep(1000);
      const info = await (await jetstreamManager(nc)).consumers.info("MULTIPROC_bounded", "workers");
      expect(info.num_ack_pending).toBeGreaterThan(0);
      expect(info.num_ack_pending).toBeLessThanOrEqual(16);
      expect(await result.get(25_000)).toEqual(items.map(([x]) => x * x));
    } finally {
      await nc.close();
      await host.stop();
    }
  }, 30_000);

  test("Pool keeps tasks sent before any worker host serves its name, and a host started later runs them", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: "nohostyet" });
    const result = pool.mapAsync(slowTagged, [1, 2, 3], 1);
    await Bun.sleep(300);
    expect(result.ready()).toBe(false);
    const late = await startHost(broker, "nohostyet");
    try {
      expect((await result.get(20_000)).map((r) => r.v)).toEqual([1, 4, 9]);
    } finally {
      await late.stop();
    }
  }, 30_000);

  test("Pool.map completes with every result once, in order, when a host is SIGKILLed mid-run", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: NAME });
    const [victim, survivor] = hosts as [Host, Host];
    // Both hosts' local pools up first (spawn workers start slowly on a loaded machine).
    const seen = new Set<number>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      for (const r of await pool.map(slowTagged, [1, 2, 3, 4, 5, 6, 7, 8], 1)) seen.add(r.host);
    }
    expect(seen.size).toBe(2);
    const items = Array.from({ length: 300 }, (_, i) => i);
    const result = pool.mapAsync(slowTagged, items, 1);
    await Bun.sleep(500);
    expect(result.ready()).toBe(false);
    victim.proc.kill("SIGKILL");
    const killedAt = performance.now();
    const out = await result.get(20_000);
    expect(out.map((r) => r.v)).toEqual(items.map((x) => x * x));
    const byHost = new Set(out.map((r) => r.host));
    // Both hosts served tasks; the map finished after the killed host's tasks waited out the ack wait.
    expect(byHost).toEqual(new Set([victim.proc.pid, survivor.proc.pid]));
    expect(performance.now() - killedAt).toBeGreaterThanOrEqual(ACK_WAIT * 0.9);
  }, 30_000);
});
