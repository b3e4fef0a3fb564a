/**
 * Scaling curves: start + join of N no-op children in parallel (N = 1 … 16),
 * and a Pipe round trip of byte messages (sendBytes/recvBytes) from 16 B to
 * 16 MiB, on our backends and on CPython's fork, spawn and forkserver in the
 * same run. `bun apps/bench/src/scaling.ts [--quick]` prints the tables.
 */
import { type Context, getAllStartMethods, getContext } from "@multiproc/core";
import "@multiproc/backend-spawn";
import { joinAll, NO_OP_DEADLINE_MS } from "./join-all.ts";
import { add, type Curve, type CurvePoint, makeBench, type RunOptions } from "./measure.ts";
import { runPythonScript } from "./python.ts";
import { curveTable } from "./report.ts";
import { noop } from "./start-target.ts";
import { echoBytes } from "./targets.ts";

/** Children started at once, per row (the same in scaling.py); quick runs take every other one. */
const CHILDREN = [1, 2, 4, 8, 16];
const QUICK_CHILDREN = [1, 4, 16];
/** Message sizes in bytes, per row (the same in scaling.py). */
const SIZES = [16, 1 << 10, 64 << 10, 1 << 20, 16 << 20];

const SCRIPT = new URL("./scaling.py", import.meta.url).pathname;
const START_TITLE = "Scaling: start + join of N no-op children in parallel";
const PIPE_TITLE = "Scaling: Pipe round trip of N bytes (sendBytes / recvBytes)";

/** "16 B", "64 KiB", "16 MiB". */
function sizeLabel(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : bytes >= 1 << 10 ? `${bytes / (1 << 10)} KiB` : `${bytes} B`;
}

/** Round trips per timed sample and before timing, for one size (the same rule in scaling.py). */
function pipePlan(size: number, quick: boolean): { perSample: number; warmUp: number; samples: number } {
  const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(n)));
  return {
    perSample: clamp((8 << 20) / size, 2, 1000),
    // Small messages need many round trips before both sides are JIT-compiled
    // (5,000 left 16 B round trips 4× slow in a quick run).
    warmUp: clamp((64 << 20) / size, 2, 20_000),
    samples: quick ? 3 : 15,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Our start + join curve on every backend (tinybench, one task per backend and N). */
async function oursStart(opts: RunOptions): Promise<CurvePoint[]> {
  const bench = makeBench(opts);
  const readers: { n: number; read: ReturnType<typeof add> }[] = [];
  for (const backend of getAllStartMethods()) {
    const mp = getContext(backend);
    for (const n of opts.quick ? QUICK_CHILDREN : CHILDREN) {
      const read = add(bench, `${n} children`, `ours/${backend}`, async () => {
        const kids = Array.from({ length: n }, () => new mp.Process({ target: noop }));
        for (const k of kids) k.start();
        await joinAll(kids, NO_OP_DEADLINE_MS);
        for (const k of kids) k.close();
      });
      readers.push({ n, read });
    }
  }
  await bench.run();
  return readers.flatMap(({ n, read }) => {
    const f = read();
    return f === undefined ? [] : [{ x: n, label: String(n), system: f.system, medianMs: f.medianMs }];
  });
}

/** Median round trip (ms) per size over one echoing child, timed in this process. */
async function pipeCurve(mp: Context, quick: boolean): Promise<number[]> {
  const [a, b] = mp.Pipe();
  const p = new mp.Process({ target: echoBytes, args: [b] });
  p.start();
  b.close();
  const result: number[] = [];
  for (const size of SIZES) {
    const data = new Uint8Array(size).fill(7);
    const plan = pipePlan(size, quick);
    for (let i = 0; i < plan.warmUp; i++) {
      a.sendBytes(data);
      a.recvBytesSync();
    }
    const samples: number[] = [];
    for (let s = 0; s < plan.samples; s++) {
      const t0 = performance.now();
      for (let i = 0; i < plan.perSample; i++) {
        a.sendBytes(data);
        a.recvBytesSync();
      }
      samples.push((performance.now() - t0) / plan.perSample);
    }
    result.push(median(samples));
  }
  a.sendBytes(new Uint8Array(0)); // the child's signal to return
  await joinAll([p]);
  a.close();
  return result;
}

/** Our Pipe curve on every backend. */
async function oursPipe(opts: RunOptions): Promise<CurvePoint[]> {
  const points: CurvePoint[] = [];
  for (const backend of getAllStartMethods()) {
    const ms = await pipeCurve(getContext(backend), opts.quick);
    points.push(...SIZES.map((x, i) => ({ x, label: sizeLabel(x), system: `ours/${backend}`, medianMs: ms[i]! })));
  }
  return points;
}

/** CPython's points of both curves, by curve ("start" or "pipe"). */
function python(opts: RunOptions): { curve: "start" | "pipe"; x: number; system: string; medianMs: number }[] {
  return runPythonScript(SCRIPT, [opts.quick ? "quick" : "full"]) ?? [];
}

/** Both curves, ours and CPython's, measured in this run. */
export async function runScaling(opts: RunOptions): Promise<Curve[]> {
  const start = await oursStart(opts);
  const pipe = await oursPipe(opts);
  for (const p of python(opts)) {
    const label = p.curve === "start" ? String(p.x) : sizeLabel(p.x);
    (p.curve === "start" ? start : pipe).push({ x: p.x, label, system: p.system, medianMs: p.medianMs });
  }
  return [
    { title: START_TITLE, parameter: "N", timed: "the whole batch (start all, then join all)", points: start },
    { title: PIPE_TITLE, parameter: "message size", timed: "one round trip (send, echoed back)", points: pipe },
  ];
}

if (import.meta.main) {
  for (const curve of await runScaling({ quick: Bun.argv.includes("--quick") })) console.log(curveTable(curve));
  process.exit(0);
}
