/**
 * The cluster Pool (#22) on the Pool workloads of pool.ts: a nats-server of
 * its own on 127.0.0.1 and two `multiproc worker` hosts of one spawn process
 * each (two cores here), so its rows sit beside the local pools and CPython's
 * in the same run. Without nats-server the group prints why and gives no rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "@multiproc/core";
import { measureFailover } from "./cluster-failover.ts";
import { killOnStop, startHost } from "./cluster-host.ts";
import { freePort, waitForPort } from "./local-port.ts";
import { add, type Figure, makeBench, type RunOptions } from "./measure.ts";
import { PW } from "./pool.ts";
import { square } from "./pool-task.ts";

const SYSTEM = "ours/cluster (NATS, 2 hosts x 1 spawn)";
const NAME = "bench";

/** The cluster rows of the Pool workloads; none without nats-server. */
export async function runClusterGroup(opts: RunOptions): Promise<Figure[]> {
  if (Bun.which("nats-server") === null) {
    console.error("bench: nats-server is not installed (apt-get install nats-server): no cluster Pool rows (#22)");
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), "multiproc-bench-nats-"));
  const token = crypto.randomUUID();
  const port = await freePort();
  const broker = killOnStop(
    Bun.spawn(
      ["nats-server", "-js", "-a", "127.0.0.1", "-p", String(port), "--store_dir", dir, "--auth", token],
      { stdout: "ignore", stderr: "ignore" }, // It logs its banner to stderr.
    ),
  );
  const hosts: Bun.Subprocess[] = [];
  try {
    await waitForPort(port, 5000, "nats-server");
    const url = `nats://127.0.0.1:${port}`;
    hosts.push(
      ...(await Promise.all([
        startHost(url, token, NAME, "src/pool-task.ts"),
        startHost(url, token, NAME, "src/pool-task.ts"),
      ])),
    );
    await using pool = Pool({ cluster: { servers: url, token }, name: NAME });
    const roundTrips = opts.quick ? 50 : 200;
    const inFlight = opts.quick ? 2_000 : 10_000;
    const mapped = opts.quick ? 20_000 : 100_000;
    const items = Array.from({ length: mapped }, (_, i) => i);
    for (let i = 0; i < 50; i++) await pool.apply(square, [i]); // Connected and warm before timing.
    const bench = makeBench(opts);
    const readers = [
      add(
        bench,
        PW.rt,
        SYSTEM,
        async () => {
          for (let i = 0; i < roundTrips; i++) await pool.apply(square, [i]);
        },
        roundTrips,
      ),
      add(
        bench,
        PW.inFlight,
        SYSTEM,
        async () => {
          await Promise.all(Array.from({ length: inFlight }, (_, i) => pool.applyAsync(square, [i]).get()));
        },
        inFlight,
      ),
      add(bench, PW.map, SYSTEM, () => pool.map(square, items), mapped),
    ];
    await bench.run();
    const figures = readers.map((read) => read()).filter((f): f is Figure => f !== undefined);
    // Its own hosts (a short ack wait), after the throughput rows so their processes do not compete.
    const failover = await measureFailover(url, token, opts);
    return failover === undefined ? figures : [...figures, failover];
  } finally {
    for (const h of hosts) h.kill("SIGTERM");
    await Promise.all(hosts.map((h) => Promise.race([h.exited, Bun.sleep(10_000)])));
    broker.kill();
    await broker.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
