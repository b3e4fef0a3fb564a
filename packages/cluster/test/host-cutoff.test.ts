/**
 * A worker host cut off from the broker mid-map gives its tasks back after the
 * ack wait, and the caller gets every result once (#22 point 3): a host that
 * stops answering (SIGSTOP, then SIGCONT while the map still runs, so its late
 * results arrive as duplicates), and a host in a network namespace whose link
 * is taken down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pool } from "@multiproc/core";
import { type Broker, type Host, skipReason, startBroker, startHost, useBrokerAndHosts, warmUp } from "./broker.ts";
import { loggedTagged, slowTagged } from "./fixtures/tasks.ts";
import { createNamespace, type Namespace, netnsSkipReason } from "./netns.ts";
import { runLog } from "./run-log.ts";

const ACK_WAIT = 1000;
const extra = ["--ack-wait", String(ACK_WAIT)];

const netnsSkip = skipReason ?? (await netnsSkipReason());
if (netnsSkip !== undefined && skipReason === undefined) console.warn(netnsSkip);

describe.skipIf(skipReason !== undefined)("cluster Pool and a host that stops answering", () => {
  const NAME = "stoptest";
  const setup = useBrokerAndHosts({ name: NAME, extra });

  test("Pool.imapUnordered yields every result once when a host is SIGSTOPped mid-run and resumed later", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    await warmUp(pool, setup.hosts);
    const [victim, survivor] = setup.hosts as [Host, Host];
    const items = Array.from({ length: 600 }, (_, i) => i);
    using log = runLog();
    const out: { v: number; host: number }[] = [];
    let stoppedAt = 0;
    let resumed = false;
    for await (const r of pool.imapUnordered(
      loggedTagged,
      items.map((x) => [x, log.path] as [number, string]),
      1,
    )) {
      out.push(r);
      if (out.length === 100) {
        victim.proc.kill("SIGSTOP");
        stoppedAt = performance.now();
      }
      // Resumed after the ack wait: the tasks it held ran again elsewhere, and its own results of them come late.
      if (!resumed && stoppedAt > 0 && performance.now() - stoppedAt > ACK_WAIT * 1.5) {
        victim.proc.kill("SIGCONT");
        resumed = true;
      }
    }
    expect(resumed).toBe(true);
    expect(out).toHaveLength(items.length);
    expect(out.map((r) => r.v).sort((a, b) => a - b)).toEqual(items.map((x) => x * x));
    expect(new Set(out.map((r) => r.host))).toEqual(new Set([victim.proc.pid, survivor.proc.pid]));
    // The stopped host's tasks came back and ran again elsewhere (at least once execution, each result once).
    expect(log.runs()).toBeGreaterThan(items.length);
    // The resumed host serves again, and no late result of the last map leaks into the next one.
    victim.proc.kill("SIGCONT");
    expect((await pool.map(slowTagged, [5, 6, 7], 1)).map((r) => r.v)).toEqual([25, 36, 49]);
  }, 30_000);
});

describe.skipIf(netnsSkip !== undefined)("cluster Pool and a host cut off in a network namespace", () => {
  const NAME = "netnstest";
  let ns: Namespace;
  let broker: Broker;
  let hosts: Host[] = [];

  beforeAll(async () => {
    ns = await createNamespace();
    // The broker listens on this side of the veth pair; the host outside reaches it there too.
    broker = await startBroker({ address: ns.hostAddress });
    hosts = await Promise.all([startHost(broker, NAME, extra, undefined, ns.wrap), startHost(broker, NAME, extra)]);
  }, 30_000);

  afterAll(async () => {
    // The cut-off host cannot say goodbye to the broker: killed, not stopped.
    hosts[0]?.proc.kill("SIGKILL");
    await Promise.all(hosts.map((h) => h.stop()));
    await broker?.stop();
    await ns?.remove();
  }, 30_000);

  test("Pool.map completes with every result once, in order, when a host's link is cut mid-run", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: NAME });
    await warmUp(pool, hosts);
    const [cutOff, survivor] = hosts as [Host, Host];
    const items = Array.from({ length: 300 }, (_, i) => i);
    using log = runLog();
    const result = pool.mapAsync(
      loggedTagged,
      items.map((x) => [x, log.path] as [number, string]),
      1,
    );
    await Bun.sleep(500);
    expect(result.ready()).toBe(false);
    await ns.cut();
    const cutAt = performance.now();
    const out = await result.get(20_000);
    expect(out.map((r) => r.v)).toEqual(items.map((x) => x * x));
    expect(new Set(out.map((r) => r.host))).toEqual(new Set([cutOff.proc.pid, survivor.proc.pid]));
    expect(performance.now() - cutAt).toBeGreaterThanOrEqual(ACK_WAIT * 0.9);
    // The cut-off host's tasks came back and ran again elsewhere (it ran them too, but its results never came).
    expect(log.runs()).toBeGreaterThan(items.length);
  }, 30_000);
});
