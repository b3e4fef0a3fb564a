/**
 * Shared-memory benchmark: four processes hammering one locked Value
 * (`with v.get_lock(): v.value += 1`), ours against CPython's in the same
 * run. `bun apps/bench/src/shared.ts [--quick] [--backend spawn]` prints it;
 * `benchShared()` returns the figures for the main report.
 */
import { type BackendName, type Event, getContext, type RawArray, type Value } from "@multiproc/core";

/** One side's figures. */
export interface HammerFigure {
  name: string;
  /** Locked increments per second, all processes together. */
  opsPerSec: number;
  /** Wall time of the hammering phase (ms). */
  ms: number;
  /** Whether the final value was exact (no lost update). */
  exact: boolean;
}

/** A child: waits for the start gate, then `n` locked increments; records when it finished. */
export function hammer(v: Value<number>, start: Event, ends: RawArray<"d">, slot: number, n: number): void {
  start.waitSync(60_000);
  const lock = v.getLock();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    v.value += 1;
    lock.release();
  }
  ends[slot] = performance.timeOrigin + performance.now();
}

async function ours(backend: BackendName | undefined, processes: number, n: number): Promise<HammerFigure> {
  const mp = getContext(backend);
  const v = mp.Value("i", 0);
  const start = mp.Event();
  const ends = mp.RawArray("d", processes);
  const kids = Array.from(
    { length: processes },
    (_, slot) => new mp.Process({ target: hammer, args: [v, start, ends, slot, n] }),
  );
  for (const k of kids) k.start();
  await Bun.sleep(300); // let every child reach the gate
  const t0 = performance.timeOrigin + performance.now();
  start.set();
  for (const k of kids) await k.join(120_000);
  const ms = Math.max(...ends) - t0;
  const total = processes * n;
  return { name: `ours (${mp.getStartMethod()})`, opsPerSec: (total / ms) * 1000, ms, exact: v.value === total };
}

const PYTHON = `
import json, multiprocessing as mp, sys, time
def hammer(v, start, ends, slot, n):
    start.wait(60)
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1
    ends[slot] = time.time()
if __name__ == "__main__":
    method, processes, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context(method)
    v = ctx.Value("i", 0); start = ctx.Event(); ends = ctx.Array("d", processes)
    ps = [ctx.Process(target=hammer, args=(v, start, ends, i, n)) for i in range(processes)]
    for p in ps: p.start()
    time.sleep(1.0)
    t0 = time.time(); start.set()
    for p in ps: p.join()
    ms = (max(ends) - t0) * 1000
    print(json.dumps({"ms": ms, "exact": v.value == processes * n}))
`;

function python(processes: number, n: number): HammerFigure | undefined {
  const which = Bun.which("python3");
  if (which === null) return undefined;
  const r = Bun.spawnSync([which, "-c", PYTHON, "fork", String(processes), String(n)], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 300_000,
  });
  if (r.exitCode !== 0) {
    console.error(`python3 shared benchmark failed: ${r.stderr.toString()}`);
    return undefined;
  }
  const { ms, exact } = JSON.parse(r.stdout.toString()) as { ms: number; exact: boolean };
  return { name: "CPython (fork)", opsPerSec: ((processes * n) / ms) * 1000, ms, exact };
}

/**
 * Runs both sides: `processes` children (default 4) each doing `increments`
 * locked `v.value += 1` on one shared Value.
 * @returns ours and CPython's figures (python undefined without python3)
 */
export async function benchShared(opts?: {
  backend?: BackendName;
  processes?: number;
  increments?: number;
  /** false: skip CPython. Default true. */
  python?: boolean;
}): Promise<{ ours: HammerFigure; python: HammerFigure | undefined }> {
  const processes = opts?.processes ?? 4;
  const n = opts?.increments ?? 200_000;
  const mine = await ours(opts?.backend, processes, n);
  return { ours: mine, python: opts?.python === false ? undefined : python(processes, n) };
}

if (import.meta.main) {
  const quick = Bun.argv.includes("--quick");
  const at = Bun.argv.indexOf("--backend");
  const backend = at === -1 ? undefined : (Bun.argv[at + 1] as BackendName);
  const { ours: a, python: b } = await benchShared({ backend, increments: quick ? 20_000 : 200_000 });
  const row = (f: HammerFigure) =>
    `| ${f.name} | ${Math.round(f.opsPerSec).toLocaleString("en")} | ${f.ms.toFixed(0)} ms | ${f.exact} |`;
  console.log("| 4 processes, one locked Value | increments/s | time | exact |\n|---|---|---|---|");
  console.log(row(a));
  if (b !== undefined) {
    console.log(row(b));
    console.log(`\nours / CPython: ${(a.opsPerSec / b.opsPerSec).toFixed(1)}x`);
  }
  process.exit(0);
}
