/**
 * Channel benchmarks: Pipe round trip, Queue throughput process to process,
 * and 8 MiB messages through sendBytes/recvBytes, on every backend, against
 * CPython's multiprocessing measured in the same run.
 * `bun apps/bench/src/channels.ts [--quick]` prints the table; the functions
 * are exported for the main benchmark.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Connection, type Context, getAllStartMethods, getContext, type Queue } from "@multiproc/core";
import "@multiproc/backend-spawn";

/** The small object of every small-message workload (the same as in python-suite.py). */
const SMALL = { id: 1, name: "spam", tags: ["a", "b"] };

/** Round trips before a Pipe measurement starts. */
const WARM_UP = 30_000;

/** One result: a workload on one system, as time per operation and as a rate. */
export interface ChannelFigure {
  workload: string;
  system: string;
  /** Microseconds per operation (round trip, item, or message). */
  microseconds: number;
  /** Operations per second (for bytes: bytes per second). */
  rate: number;
}

// ---- Child targets (exported: spawn and worker children import them) ----

/** Echoes each value back until null. */
export function echo(conn: Connection): void {
  for (;;) {
    const v = conn.recvSync();
    if (v === null) return;
    conn.send(v);
  }
}

/** Takes `count` items, then says "done" on `done`; says "ready" first. */
export function drain(q: Queue<unknown>, count: number, done: Connection): void {
  done.send("ready");
  for (let i = 0; i < count; i++) q.getSync();
  done.send("done");
}

/** Receives `count` byte messages, acknowledging each with one byte. */
export function sink(conn: Connection, count: number): void {
  const ack = new Uint8Array(1);
  for (let i = 0; i < count; i++) {
    conn.recvBytesSync();
    conn.sendBytes(ack);
  }
}

// ---- Workloads ----

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median time of one Pipe round trip of a small object (µs), child echoing with recvSync. */
export async function pipeRoundTrip(mp: Context, rounds: number, perRound: number): Promise<number> {
  const [a, b] = mp.Pipe();
  const p = new mp.Process({ target: echo, args: [b] });
  p.start();
  b.close();
  // Long enough for both processes to reach their optimizing JIT tiers (with
  // BUN_JSC_useConcurrentJIT=0, as the fork preload sets, compiling stalls the
  // round trips it happens in).
  for (let i = 0; i < WARM_UP; i++) {
    a.send(SMALL);
    a.recvSync();
  }
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) {
      a.send(SMALL);
      a.recvSync();
    }
    samples.push(((performance.now() - t0) * 1000) / perRound);
  }
  a.send(null);
  await p.join();
  a.close();
  return median(samples);
}

/** Median items per second from this process (producer) to a child (consumer). */
export async function queueThroughput(mp: Context, rounds: number, items: number): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const q = mp.Queue<unknown>();
    const [a, b] = mp.Pipe();
    const p = new mp.Process({ target: drain, args: [q, items, b] });
    p.start();
    b.close();
    a.recvSync(); // "ready": the child is running and about to get
    const t0 = performance.now();
    for (let i = 0; i < items; i++) q.putSync({ i, name: "spam", tags: ["a", "b"] });
    a.recvSync(); // "done"
    rates.push(items / ((performance.now() - t0) / 1000));
    await p.join();
    a.close();
    q.close();
  }
  return median(rates);
}

/** Median bytes per second of `size`-byte messages to a child through sendBytes/recvBytes. */
export async function bytesThroughput(mp: Context, rounds: number, size: number, count: number): Promise<number> {
  const data = new Uint8Array(size).fill(7);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const [a, b] = mp.Pipe();
    const p = new mp.Process({ target: sink, args: [b, count + 1] });
    p.start();
    b.close();
    a.sendBytes(data); // warm-up message
    a.recvBytesSync();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      a.sendBytes(data);
      a.recvBytesSync();
    }
    rates.push((size * count) / ((performance.now() - t0) / 1000));
    await p.join();
    a.close();
  }
  return median(rates);
}

// ---- CPython, same workloads ----

const PYTHON = `
import json, multiprocessing as mp, sys, time
SMALL = {"id": 1, "name": "spam", "tags": ["a", "b"]}
def echo(c):
    while True:
        v = c.recv()
        if v is None: return
        c.send(v)
def drain(q, n, done):
    done.send("ready")
    for _ in range(n): q.get()
    done.send("done")
def sink(c, n):
    for _ in range(n):
        c.recv_bytes(); c.send_bytes(b"x")
def med(xs): return sorted(xs)[len(xs) // 2]
if __name__ == "__main__":
    quick = sys.argv[1] == "quick"
    out = []
    for method in ["fork", "spawn"]:
        ctx = mp.get_context(method)
        a, b = ctx.Pipe(); p = ctx.Process(target=echo, args=(b,)); p.start(); b.close()
        for _ in range(30000): a.send(SMALL); a.recv()
        samples = []
        for _ in range(3 if quick else 10):
            t = time.perf_counter()
            for _ in range(2000): a.send(SMALL); a.recv()
            samples.append((time.perf_counter() - t) * 1e6 / 2000)
        a.send(None); p.join(); a.close()
        out.append({"workload": "pipe", "system": "CPython/" + method, "value": med(samples)})
        n = 50_000 if quick else 100_000
        rates = []
        for _ in range(1 if quick else 3):
            q = ctx.Queue(); a, b = ctx.Pipe()
            p = ctx.Process(target=drain, args=(q, n, b)); p.start(); b.close(); a.recv()
            t = time.perf_counter()
            for i in range(n): q.put({"i": i, "name": "spam", "tags": ["a", "b"]})
            a.recv(); rates.append(n / (time.perf_counter() - t)); p.join(); a.close()
        out.append({"workload": "queue", "system": "CPython/" + method, "value": med(rates)})
        size, count = 8 << 20, (5 if quick else 20)
        data = bytes(size); rates = []
        for _ in range(1 if quick else 3):
            a, b = ctx.Pipe(); p = ctx.Process(target=sink, args=(b, count + 1)); p.start(); b.close()
            a.send_bytes(data); a.recv_bytes()
            t = time.perf_counter()
            for _ in range(count): a.send_bytes(data); a.recv_bytes()
            rates.append(size * count / (time.perf_counter() - t)); p.join(); a.close()
        out.append({"workload": "bytes", "system": "CPython/" + method, "value": med(rates)})
    print(json.dumps(out))
`;

const WORKLOADS = {
  pipe: "Pipe round trip, small object (µs)",
  queue: "Queue 1 producer → 1 consumer process, small objects (items/s)",
  bytes: "8 MiB through sendBytes/recvBytes (GB/s)",
} as const;

/** Our figures on every usable backend (one pass). */
async function oursOnce(quick: boolean): Promise<ChannelFigure[]> {
  const figures: ChannelFigure[] = [];
  for (const backend of getAllStartMethods()) {
    const mp = getContext(backend);
    const system = `ours/${backend}`;
    const us = await pipeRoundTrip(mp, quick ? 3 : 10, 2000);
    figures.push({ workload: WORKLOADS.pipe, system, microseconds: us, rate: 1e6 / us });
    const items = await queueThroughput(mp, quick ? 1 : 3, quick ? 200_000 : 500_000);
    figures.push({ workload: WORKLOADS.queue, system, microseconds: 1e6 / items, rate: items });
    const bytes = await bytesThroughput(mp, quick ? 1 : 3, 8 << 20, quick ? 5 : 20);
    figures.push({ workload: WORKLOADS.bytes, system, microseconds: ((8 << 20) / bytes) * 1e6, rate: bytes });
  }
  return figures;
}

/** CPython's figures for fork and spawn (one pass), or none without python3. */
function pythonOnce(quick: boolean): ChannelFigure[] {
  const python = Bun.which("python3");
  if (python === null) return [];
  // A file, not `-c`: CPython's spawn children re-import the main module by path.
  const script = join(mkdtempSync(join(tmpdir(), "multiproc-bench-")), "channels.py");
  writeFileSync(script, PYTHON);
  const r = Bun.spawnSync([python, script, quick ? "quick" : "full"], { stdout: "pipe", stderr: "pipe" });
  rmSync(dirname(script), { recursive: true, force: true });
  if (r.exitCode !== 0) {
    console.error(`python3 failed: ${r.stderr.toString()}`);
    return [];
  }
  const raw = JSON.parse(r.stdout.toString()) as { workload: keyof typeof WORKLOADS; system: string; value: number }[];
  return raw.map((f) => {
    const workload = WORKLOADS[f.workload];
    if (f.workload === "pipe") return { workload, system: f.system, microseconds: f.value, rate: 1e6 / f.value };
    if (f.workload === "queue") return { workload, system: f.system, microseconds: 1e6 / f.value, rate: f.value };
    return { workload, system: f.system, microseconds: ((8 << 20) / f.value) * 1e6, rate: f.value };
  });
}

/**
 * Runs every channel workload on our backends and on CPython, alternating
 * `passes` times, and keeps each system's best pass: on a shared machine, load
 * from elsewhere only ever makes a pass slower, for both sides alike.
 */
export async function runChannelBench(quick: boolean, passes = quick ? 1 : 3): Promise<ChannelFigure[]> {
  const best = new Map<string, ChannelFigure>();
  for (let p = 0; p < passes; p++) {
    for (const f of [...(await oursOnce(quick)), ...pythonOnce(quick)]) {
      const key = `${f.workload}|${f.system}`;
      const seen = best.get(key);
      if (seen === undefined || f.rate > seen.rate) best.set(key, f);
    }
  }
  return [...best.values()];
}

/** The figures as a markdown table, with each of ours against the best CPython start method. */
export function channelTable(figures: ChannelFigure[]): string {
  const lines = ["| workload | system | result | vs best CPython |", "|---|---|---|---|"];
  for (const workload of Object.values(WORKLOADS)) {
    const rows = figures.filter((f) => f.workload === workload);
    const py = rows.filter((f) => f.system.startsWith("CPython"));
    const bestPy = py.length === 0 ? undefined : Math.max(...py.map((f) => f.rate));
    for (const f of rows) {
      const result =
        workload === WORKLOADS.pipe
          ? `${f.microseconds.toFixed(1)} µs`
          : workload === WORKLOADS.queue
            ? `${Math.round(f.rate).toLocaleString("en")} /s`
            : `${(f.rate / 1e9).toFixed(2)} GB/s`;
      const ratio = bestPy === undefined || f.system.startsWith("CPython") ? "" : `${(f.rate / bestPy).toFixed(1)}×`;
      lines.push(`| ${workload} | ${f.system} | ${result} | ${ratio} |`);
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const quick = Bun.argv.includes("--quick");
  const figures = await runChannelBench(quick);
  console.log(`Machine: ${availableParallelism()} cores, Bun ${Bun.version}; ${new Date().toISOString()}\n`);
  console.log(channelTable(figures));
  process.exit(0);
}
