/**
 * Probe for issue #18 point 12: times one Pipe round trip of SIZE bytes
 * (default 64 KiB; sendBytes, echoed back by a child) on one backend, and
 * CPython's fork in the same run, alternating blocks so the machine's noise
 * hits both. Reports the mean, as scaling.ts does (rare slow round trips
 * count), the median, and how the slow ones split into send and receive.
 * `bun apps/bench/src/pipe-size-probe.ts [bytes] [backend]`; BLOCKS=n sets the
 * blocks of 2000 round trips, NO_PY=1 leaves CPython out (a longer run of ours).
 */
import { getContext } from "@multiproc/core";
import "@multiproc/backend-spawn";
import { joinAll } from "./join-all.ts";
import { echoBytes } from "./targets.ts";

const size = Number(Bun.argv[2] ?? 64 << 10);
const backend = (Bun.argv[3] ?? "fork") as "fork" | "spawn" | "worker";
const BLOCKS = Number(process.env.BLOCKS ?? 5);
const PER_BLOCK = 2000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const PY = `
import multiprocessing as mp, sys, time
def echo(c):
    while True:
        d = c.recv_bytes()
        if not d: return
        c.send_bytes(d)
if __name__ == "__main__":
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(); p = ctx.Process(target=echo, args=(b,)); p.start(); b.close()
    data = bytes(${size}); n = ${PER_BLOCK}
    for _ in range(200): a.send_bytes(data); a.recv_bytes()
    t = []
    for _ in range(n):
        t0 = time.perf_counter(); a.send_bytes(data); a.recv_bytes(); t.append(time.perf_counter() - t0)
    a.send_bytes(b""); p.join()
    print(sum(t) / len(t) * 1e6)
`;

const mp = getContext(backend);
const [a, b] = mp.Pipe();
const p = new mp.Process({ target: echoBytes, args: [b] });
p.start();
b.close();
const data = new Uint8Array(size).fill(7);
for (let i = 0; i < 2000; i++) {
  a.sendBytes(data);
  a.recvBytesSync();
}
const ours: number[] = [];
const py: number[] = [];
const oursMedian: number[] = [];
const slow: number[] = [];
const slowParts: string[] = [];
const cpuPerTrip: number[] = [];
const faultsPerTrip: number[] = [];
for (let block = 0; block < BLOCKS; block++) {
  const times: number[] = [];
  const r0 = process.resourceUsage();
  for (let i = 0; i < PER_BLOCK; i++) {
    const t0 = performance.now();
    a.sendBytes(data);
    const t1 = performance.now();
    a.recvBytesSync();
    const t2 = performance.now();
    times.push((t2 - t0) * 1000);
    if (t2 - t0 > 0.2 && block === 0)
      slowParts.push(`${((t1 - t0) * 1000).toFixed(0)}+${((t2 - t1) * 1000).toFixed(0)}`);
  }
  // The mean, as scaling.ts times it: a rare slow round trip (a sleep instead of a spin) counts.
  const r1 = process.resourceUsage();
  // This process's CPU time and minor faults per round trip: a waiter that spins burns CPU its peer may need.
  cpuPerTrip.push((r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / PER_BLOCK);
  faultsPerTrip.push((r1.minorPageFault - r0.minorPageFault) / PER_BLOCK);
  ours.push(times.reduce((x, y) => x + y, 0) / times.length);
  oursMedian.push(median(times));
  slow.push(times.filter((t) => t > 200).length);
  const out = process.env.NO_PY ? { stdout: "0" } : Bun.spawnSync(["python3", "-c", PY]);
  py.push(Number(out.stdout.toString().trim()));
}
a.sendBytes(new Uint8Array(0));
await joinAll([p]);
a.close();
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(" ");
console.log(
  `${size} B on ${backend}: ours mean µs per block ${fmt(ours)} (medians ${fmt(oursMedian)}, round trips over 200 µs ${slow.join(" ")}) | CPython/fork mean ${fmt(py)}`,
);
console.log(
  `median ours ${median(ours).toFixed(1)} µs, CPython ${median(py).toFixed(1)} µs, ratio ${(median(py) / median(ours)).toFixed(2)}x`,
);
console.log(
  `ours, this process: CPU µs per round trip ${fmt(cpuPerTrip)}; minor faults per round trip ${fmt(faultsPerTrip)}`,
);
console.log(`slow round trips of the first block, send+receive µs: ${slowParts.slice(0, 20).join(" ")}`);
process.exit(0);
