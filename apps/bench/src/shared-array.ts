/**
 * A big shared array updated in parallel: `Array("d", 10M, { lock: false })`,
 * four children each adding 1 to their quarter through the typed-array view,
 * timed as a whole (start + update + join). Ours on every backend (tinybench),
 * CPython's `multiprocessing.Array('d', 10_000_000, lock=False)` with the same
 * split in the same run. Every run's sum is checked at the end, so a
 * benchmark that silently updated nothing fails loudly instead.
 */
import { getAllStartMethods, getContext, type SharedTypedArray } from "@multiproc/core";
import { joinAll } from "./join-all.ts";
import { add, type Figure, makeBench, type RunOptions } from "./measure.ts";
import { runPythonScript } from "./python.ts";
import { addOne } from "./targets.ts";
import { W } from "./workloads.ts";

/** Elements of the array (the same in shared-array.py). */
const LENGTH = 10_000_000;
/** Children, each updating LENGTH / CHILDREN elements. */
const CHILDREN = 4;

const SCRIPT = new URL("./shared-array.py", import.meta.url).pathname;

/** Throws unless every element was incremented once per run. */
function verify(array: SharedTypedArray<"d">, runs: number, system: string): void {
  let sum = 0;
  for (let i = 0; i < array.length; i++) sum += array[i]!;
  if (runs === 0 || sum !== runs * LENGTH) {
    throw new Error(
      `Shared array benchmark on ${system} is wrong: sum ${sum} after ${runs} runs, expected ${runs * LENGTH}`,
    );
  }
}

/** Ours on every backend: one tinybench task each, one array per backend reused across runs. */
async function ours(opts: RunOptions): Promise<Figure[]> {
  const bench = makeBench(opts);
  const readers: (() => Figure | undefined)[] = [];
  const checks: (() => void)[] = [];
  for (const backend of getAllStartMethods()) {
    const mp = getContext(backend);
    const system = `ours/${backend}`;
    const array = mp.Array("d", LENGTH, { lock: false });
    const quarter = LENGTH / CHILDREN;
    let runs = 0;
    // A run whose child failed leaves the array part-updated; its task is
    // reported as failed (no figure) and the sum is not checked.
    let failed = false;
    readers.push(
      add(bench, W.sharedArray, system, async () => {
        const kids = Array.from(
          { length: CHILDREN },
          (_, k) => new mp.Process({ target: addOne, args: [array, k * quarter, (k + 1) * quarter] }),
        );
        for (const k of kids) k.start();
        try {
          await joinAll(kids, 30_000);
        } catch (e) {
          failed = true;
          throw e;
        }
        runs++;
      }),
    );
    checks.push(() => {
      if (!failed) verify(array, runs, system);
    });
  }
  await bench.run();
  for (const check of checks) check();
  return readers.map((r) => r()).filter((f): f is Figure => f !== undefined);
}

/**
 * Runs the workload on our backends and on CPython (fork, spawn, forkserver;
 * plus a numpy view of the same array under fork as a reference row when
 * numpy is installed).
 * @throws Error when a final sum shows an update was lost or never happened
 */
export async function runSharedArray(opts: RunOptions): Promise<Figure[]> {
  const figures = await ours(opts);
  const python = runPythonScript<{ system: string; medianMs: number }[]>(SCRIPT, [opts.quick ? "quick" : "full"]);
  for (const f of python ?? []) {
    figures.push({ workload: W.sharedArray, system: f.system, medianMs: f.medianMs, opsPerSec: 1000 / f.medianMs });
  }
  return figures;
}

if (import.meta.main) {
  for (const f of await runSharedArray({ quick: Bun.argv.includes("--quick") })) {
    console.log(`${f.system}: ${f.medianMs.toFixed(1)} ms`);
  }
  process.exit(0);
}
