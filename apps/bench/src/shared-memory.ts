/**
 * A named SharedMemory of 64 MiB filled in parallel: four children each
 * attach by name and fill their quarter, timed as a whole (start + attach +
 * fill + join). Ours on every backend (tinybench), CPython's
 * `shared_memory.SharedMemory` with the same split in the same run (numpy
 * fill when numpy is installed, else a bytes slice assignment). Every run
 * writes a new byte value, checked at the end, so a run that filled nothing
 * fails loudly.
 */
import { getAllStartMethods, getContext, SharedMemory } from "@multiproc/core";
import { joinAll } from "./join-all.ts";
import { add, type Figure, makeBench, type RunOptions } from "./measure.ts";
import { runPythonScript } from "./python.ts";
import { fillQuarter } from "./targets.ts";
import { W } from "./workloads.ts";

/** Bytes of the segment (the same in shared-memory.py). */
const SIZE = 64 << 20;
/** Children, each filling SIZE / CHILDREN bytes. */
const CHILDREN = 4;

const SCRIPT = new URL("./shared-memory.py", import.meta.url).pathname;

/** Throws unless every byte holds the value of the last run. */
function verify(shm: SharedMemory, value: number, system: string): void {
  const wrong = shm.buf.findIndex((b) => b !== value);
  if (value === 0 || wrong >= 0) {
    throw new Error(
      `SharedMemory benchmark on ${system} is wrong: byte ${wrong} is ${shm.buf[wrong]}, expected ${value}`,
    );
  }
}

/** Ours on every backend: one tinybench task each, one segment per backend reused across runs. */
async function ours(opts: RunOptions): Promise<Figure[]> {
  const bench = makeBench(opts);
  const readers: (() => Figure | undefined)[] = [];
  const checks: (() => void)[] = [];
  const segments: SharedMemory[] = [];
  for (const backend of getAllStartMethods()) {
    const mp = getContext(backend);
    const system = `ours/${backend}`;
    const shm = new SharedMemory({ create: true, size: SIZE });
    segments.push(shm);
    let value = 0;
    let failed = false;
    readers.push(
      add(bench, W.sharedMemory, system, async () => {
        value = (value % 255) + 1;
        const kids = Array.from(
          { length: CHILDREN },
          (_, k) => new mp.Process({ target: fillQuarter, args: [shm.name, k, CHILDREN, value] }),
        );
        for (const k of kids) k.start();
        try {
          await joinAll(kids, 30_000);
        } catch (e) {
          failed = true;
          throw e;
        }
      }),
    );
    checks.push(() => {
      if (!failed) verify(shm, value, system);
    });
  }
  try {
    await bench.run();
    for (const check of checks) check();
  } finally {
    for (const shm of segments) {
      shm.close();
      shm.unlink();
    }
  }
  return readers.map((r) => r()).filter((f): f is Figure => f !== undefined);
}

/**
 * Runs the workload on our backends and on CPython (fork, spawn, forkserver).
 * @throws Error when a final check shows a fill was lost or never happened
 */
export async function runSharedMemory(opts: RunOptions): Promise<Figure[]> {
  const figures = await ours(opts);
  const python = runPythonScript<{ system: string; medianMs: number }[]>(SCRIPT, [opts.quick ? "quick" : "full"]);
  for (const f of python ?? []) {
    figures.push({ workload: W.sharedMemory, system: f.system, medianMs: f.medianMs, opsPerSec: 1000 / f.medianMs });
  }
  return figures;
}

if (import.meta.main) {
  for (const f of await runSharedMemory({ quick: Bun.argv.includes("--quick") })) {
    console.log(`${f.system}: ${f.medianMs.toFixed(1)} ms`);
  }
  process.exit(0);
}
