/**
 * The cluster's failover figure (#22): the time from a worker host's SIGKILL
 * to the tasks it held finishing on another host. Two hosts of their own
 * serve a name of their own with a 1 s ack wait; tasks stall only on the
 * victim, so once the survivor has finished its share, what remains is what
 * the victim holds, and the time after the kill is the broker's ack wait plus
 * the redelivery and the survivor's run of them, nothing else.
 */
import { type AsyncResult, Pool } from "@multiproc/core";
import { startHost } from "./cluster-host.ts";
import { hostOf, stallOn } from "./cluster-task.ts";
import type { Figure, RunOptions } from "./measure.ts";

const NAME = "failover";
const ACK_WAIT_MS = 1000;
const MODULE = "src/cluster-task.ts";
/** More tasks than one host of one process holds (8 per process), so both hosts take some. */
const TASKS = 24;
/** Results stop arriving for this long: the victim holds the rest. */
const SETTLED_MS = 200;
/** Longest wait for anything in a sample (a warm-up, a batch, the recovery). */
const LIMIT_MS = 15_000;

export const FAILOVER_WORKLOAD = `Cluster: a worker host SIGKILLed, to the tasks it held finished on another host (ack wait ${ACK_WAIT_MS / 1000} s)`;
const SYSTEM = "ours/cluster (NATS, 2 hosts x 1 spawn)";

type ClusterPool = ReturnType<typeof Pool>;

/** Runs small maps until both hosts have served one (their local pools are up). @throws after LIMIT_MS */
async function warmUp(pool: ClusterPool, hosts: Bun.Subprocess[]): Promise<void> {
  const seen = new Set<number>();
  const deadline = performance.now() + LIMIT_MS;
  while (!hosts.every((h) => seen.has(h.pid))) {
    if (performance.now() > deadline) throw new Error(`failover: a worker host never served within ${LIMIT_MS} ms`);
    for (const pid of await pool.map(hostOf, [1, 2, 3, 4, 5, 6, 7, 8], 1)) seen.add(pid);
  }
}

/** Sends a batch that stalls on `victim` and waits until only the victim's share is left; undefined if it took none. */
async function holdOn(pool: ClusterPool, victim: number): Promise<AsyncResult<number>[] | undefined> {
  const results: AsyncResult<number>[] = [];
  for (let i = 0; i < TASKS; i++) {
    results.push(pool.applyAsync(stallOn, [victim, i]));
    // A turn of its own per call: the calls of one turn go as one message, which one host would hold whole.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const deadline = performance.now() + LIMIT_MS;
  let done = -1;
  for (;;) {
    await Bun.sleep(SETTLED_MS);
    const now = results.filter((r) => r.ready()).length;
    if (now === TASKS) return undefined;
    if (now === done && now > 0) return results;
    if (performance.now() > deadline) throw new Error(`failover: the batch did not settle within ${LIMIT_MS} ms`);
    done = now;
  }
}

/** One sample: kills the victim once it holds tasks; the ms until they all finished elsewhere. */
async function sample(pool: ClusterPool, victim: Bun.Subprocess): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const held = await holdOn(pool, victim.pid);
    if (held === undefined) continue; // The survivor took every task: nothing to fail over; again.
    victim.kill("SIGKILL");
    const killedAt = performance.now();
    await Promise.all(held.map((r) => r.get(LIMIT_MS)));
    return performance.now() - killedAt;
  }
  throw new Error("failover: the victim host took none of 5 batches");
}

/** The failover figure, median of 1 sample (quick) or 5, against the broker at `url`; undefined if it failed. */
export async function measureFailover(url: string, token: string, opts: RunOptions): Promise<Figure | undefined> {
  const extra = ["--ack-wait", String(ACK_WAIT_MS)];
  const hosts: Bun.Subprocess[] = [];
  try {
    hosts.push(
      ...(await Promise.all([startHost(url, token, NAME, MODULE, extra), startHost(url, token, NAME, MODULE, extra)])),
    );
    await using pool = Pool({ cluster: { servers: url, token }, name: NAME });
    const times: number[] = [];
    for (let i = 0; i < (opts.quick ? 1 : 5); i++) {
      if (i > 0) hosts[0] = await startHost(url, token, NAME, MODULE, extra); // The last victim is dead.
      await warmUp(pool, hosts);
      times.push(await sample(pool, hosts[0]!));
    }
    times.sort((a, b) => a - b);
    // The median alone hides where in [⅔, 1] × the ack wait the samples fell.
    console.error(`bench: failover samples ${times.map((t) => `${t.toFixed(0)} ms`).join(", ")}`);
    const medianMs = times[Math.floor(times.length / 2)]!;
    return { workload: FAILOVER_WORKLOAD, system: SYSTEM, medianMs, opsPerSec: 1000 / medianMs };
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}: no failover figure`);
    return undefined;
  } finally {
    for (const h of hosts) h.kill("SIGTERM");
    await Promise.all(hosts.map((h) => Promise.race([h.exited, Bun.sleep(10_000)])));
  }
}
