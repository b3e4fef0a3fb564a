/** A worker host SIGKILLed mid-map gives its tasks back after the ack wait, and they run elsewhere (#22 point 3). */
import { describe, expect, test } from "bun:test";
import { type ClusterPool, Pool } from "@multiproc/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Host, skipReason, startHost, useBrokerAndHosts, warmUp } from "./broker.ts";
import { slowSquare, slowTagged, startedTagged } from "./fixtures/tasks.ts";
import { runLog } from "./run-log.ts";

const NAME = "deathtest";
const ACK_WAIT = 1000;

describe.skipIf(skipReason !== undefined)("cluster Pool and a dying host", () => {
  const setup = useBrokerAndHosts({ name: NAME, extra: ["--ack-wait", String(ACK_WAIT)] });

  test("multiproc worker holds at most 8 tasks per local process, leaving the rest to other hosts", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: "bounded" });
    const host = await startHost(setup.broker, "bounded"); // 2 processes
    const nc = await connect({ servers: setup.broker.url, token: setup.broker.token });
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
    await using pool = Pool({ cluster: setup.broker.cluster, name: "nohostyet" });
    const result = pool.mapAsync(slowTagged, [1, 2, 3], 1);
    await Bun.sleep(300);
    expect(result.ready()).toBe(false);
    const late = await startHost(setup.broker, "nohostyet");
    try {
      expect((await result.get(20_000)).map((r) => r.v)).toEqual([1, 4, 9]);
    } finally {
      await late.stop();
    }
  }, 30_000);

  test("Pool.map of 10 000 tasks completes with every result once, in order, when a host is SIGKILLed mid-run", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    const [victim, survivor] = setup.hosts as [Host, Host];
    // Both hosts' local pools up first (spawn workers start slowly on a loaded machine).
    await warmUp(pool, setup.hosts);
    const items = Array.from({ length: 10_000 }, (_, i) => i);
    // Every 500th task runs for 300 ms, the others at once: the test kills the victim while it runs a slow one.
    const slow = (x: number) => x % 500 === 0;
    using log = runLog();
    // 2 000 messages of 5 tasks: the broker's cost per message sets the run time (chunks of 1 took 10-25 s here).
    const result = pool.mapAsync(
      startedTagged,
      items.map((x) => [x, log.path, slow(x) ? 300 : 0] as [number, string, number]),
      5,
    );
    // Killed once it has started a tenth of the tasks and, just now, a slow one: it dies holding tasks.
    const caught = await slowStartOn(victim, log, slow, items.length / 10);
    expect(result.ready()).toBe(false);
    victim.proc.kill("SIGKILL");
    const out = await result.get(30_000);
    expect(out).toHaveLength(items.length);
    expect(out.map((r) => r.v)).toEqual(items.map((x) => x * x));
    const victimResults = new Set(items.filter((x) => out[x]!.host === victim.proc.pid));
    expect(victimResults.size).toBeGreaterThan(0);
    expect(victimResults.size).toBeLessThan(items.length / 2);
    // Tasks the killed host started but whose results never came ran again on the survivor.
    const runs = log.lines().map((line) => line.split(" ").map(Number) as [number, number]);
    const lost = new Set(runs.filter(([x, host]) => host === victim.proc.pid && !victimResults.has(x)).map(([x]) => x));
    expect(lost).toContain(caught);
    const rerun = new Set(runs.filter(([x, host]) => host === survivor.proc.pid && lost.has(x)).map(([x]) => x));
    expect(rerun).toEqual(lost);
    for (const x of lost) expect(out[x]!.host).toBe(survivor.proc.pid);
    // No late copy of the last map's results leaks into the next one.
    expect((await pool.map(slowTagged, [5, 6, 7], 1)).map((r) => r.v)).toEqual([25, 36, 49]);
  }, 60_000);

  test("Pool.applyAsync calls of one turn (sent in batches) each get their result once when a host is SIGKILLed mid-batch", async () => {
    // Hosts of its own: the test above killed one of the describe's.
    const name = "deathbatch";
    await using pool = Pool({ cluster: setup.broker.cluster, name });
    const hosts = await Promise.all([0, 1].map(() => startHost(setup.broker, name, ["--ack-wait", String(ACK_WAIT)])));
    try {
      await batchSurvivesDeath(pool, hosts[0]!, hosts[1]!);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
    }
  }, 60_000);
});

/**
 * The first slow task (`slow`) the victim starts once it has started more
 * than `after` tasks, from the run log (at most 20 s): the moment to kill it,
 * so it dies holding a task it started.
 */
async function slowStartOn(
  victim: Host,
  log: { lines(): string[] },
  slow: (x: number) => boolean,
  after: number,
): Promise<number> {
  const deadline = performance.now() + 20_000;
  let read = 0;
  let started = 0;
  while (performance.now() < deadline) {
    await Bun.sleep(5);
    const lines = log.lines();
    for (const line of lines.slice(read)) {
      const [x, host] = line.split(" ").map(Number) as [number, number];
      if (host !== victim.proc.pid) continue;
      started++;
      if (slow(x) && started > after) return x;
    }
    read = lines.length;
  }
  throw new Error(`The victim started ${started} tasks but no slow one after its first ${after} in 20 s`);
}

async function batchSurvivesDeath(pool: ClusterPool, victim: Host, survivor: Host): Promise<void> {
  await warmUp(pool, [victim, survivor]);
  const items = Array.from({ length: 2000 }, (_, i) => i);
  // Every 100th call runs for 300 ms: the test kills the victim while it runs one, a batch half done.
  const slow = (x: number) => x % 100 === 0;
  using log = runLog();
  const delivered = new Array<number>(items.length).fill(0);
  const results = items.map((x) =>
    pool.applyAsync(startedTagged, [[x, log.path, slow(x) ? 300 : 0]], { callback: () => delivered[x]!++ }),
  );
  const caught = await slowStartOn(victim, log, slow, 0);
  expect(results[caught]!.ready()).toBe(false);
  victim.proc.kill("SIGKILL");
  const out = await Promise.all(results.map((r) => r.get(30_000)));
  expect(out.map((r) => r.v)).toEqual(items.map((x) => x * x));
  await Bun.sleep(200); // A second delivery of any result would have run its callback by now.
  expect(delivered.every((n) => n === 1)).toBe(true);
  // The calls the killed host started whose results never came ran again on the survivor.
  const runs = log.lines().map((line) => line.split(" ").map(Number) as [number, number]);
  const lost = new Set(
    runs.filter(([x, host]) => host === victim.proc.pid && out[x]!.host !== victim.proc.pid).map(([x]) => x),
  );
  expect(lost).toContain(caught);
  for (const x of lost) expect(out[x]!.host).toBe(survivor.proc.pid);
}
