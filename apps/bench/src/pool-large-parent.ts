/**
 * `bun src/pool-large-parent.ts [--quick]` (issue #23, item 3): a fork Pool's
 * workers in a large parent, steady state. Each run is a fresh Bun process
 * that grows a heap of small objects (the "large program"), starts a fork
 * Pool(2) and maps 100 000 numbers again and again; per map it records the
 * time and the workers' own minor faults (/proc/<pid>/stat), which are what
 * a large parent costs its workers (docs/pool.md, "Limits"). Variants, run
 * alternately in one run: `small` (no ballast: the figures of a small
 * program), `plain`, and `gc` (a full collection in the parent
 * right before the pool starts, so the workers inherit less free memory);
 * and, through python3 when present, CPython's fork Pool(2) in a small and a
 * large parent (pool-large-parent.py, the same ballast and maps).
 */
import { readFileSync } from "node:fs";
import { getContext } from "@multiproc/core";
import { median } from "./measure.ts";
import { square } from "./pool-task.ts";
import { runPythonScript } from "./python.ts";

const VARIANTS = ["small", "plain", "gc"] as const;
type Variant = (typeof VARIANTS)[number];
/** CPython's side of the same runs. */
const PYTHON_SCRIPT = new URL("./pool-large-parent.py", import.meta.url).pathname;

interface Result {
  variant: Variant | "CPython small" | "CPython plain";
  rssMb: number;
  /** Median ms of one map of 100 000 numbers. */
  mapMs: number;
  /** Median minor faults per map, per worker. */
  faultsPerMap: number;
  /** The same over the last quarter of the maps: the steady state. */
  lateFaultsPerMap: number;
}

/** Minor faults of every direct child of this process, together. */
function childrenFaults(): { pids: number; faults: number } {
  const listed = readFileSync(`/proc/self/task/${process.pid}/children`, "latin1").trim();
  let faults = 0;
  let pids = 0;
  for (const pid of listed === "" ? [] : listed.split(" ")) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      // Fields after the command's closing parenthesis: state is field 3, minflt field 10.
      faults += Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
      pids++;
    } catch {
      // Ended while we looked.
    }
  }
  return { pids, faults };
}

async function runOne(variant: Variant, objects: number, maps: number): Promise<Result> {
  // The large program: many small live objects, as a server's caches are.
  const ballast: Array<{ id: number; name: string; tags: number[] }> = [];
  const count = variant === "small" ? 0 : objects;
  for (let i = 0; i < count; i++) ballast.push({ id: i, name: `item ${i}`, tags: [i, i + 1] });
  if (variant === "gc") Bun.gc(true);
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const mp = getContext("fork");
  const pool = mp.Pool(2);
  const items = Array.from({ length: 100_000 }, (_, i) => i);
  const times: number[] = [];
  const faults: number[] = [];
  try {
    for (let i = 0; i < maps; i++) {
      const before = childrenFaults();
      const t0 = performance.now();
      const out = await pool.map(square, items);
      times.push(performance.now() - t0);
      const after = childrenFaults();
      faults.push((after.faults - before.faults) / Math.max(1, after.pids));
      if (out.length !== items.length) throw new Error(`map returned ${out.length} results for ${items.length} items`);
    }
  } finally {
    pool.terminate();
    await pool.join();
  }
  if (ballast.length !== count) throw new Error("the ballast was collected");
  return {
    variant,
    rssMb: Math.round(rssMb),
    mapMs: median(times),
    faultsPerMap: median(faults),
    lateFaultsPerMap: median(faults.slice(-Math.max(1, maps >> 2))),
  };
}

const quick = Bun.argv.includes("--quick");
const objects = quick ? 300_000 : 1_500_000;
const maps = quick ? 20 : 200;
const asChild = Bun.argv.indexOf("--variant");
if (asChild >= 0) {
  const variant = Bun.argv[asChild + 1] as Variant;
  if (!VARIANTS.includes(variant))
    throw new Error(`Unknown variant ${variant}; expected one of ${VARIANTS.join(", ")}`);
  console.log(JSON.stringify(await runOne(variant, objects, maps)));
  process.exit(0);
}

// Alternating fresh processes, twice each: the machine is noisy, so compare within one run.
const results: Result[] = [];
for (let round = 0; round < 2; round++) {
  for (const variant of VARIANTS) {
    const r = Bun.spawnSync([process.execPath, import.meta.path, "--variant", variant, ...(quick ? ["--quick"] : [])], {
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "pipe",
      stderr: "inherit",
      timeout: 600_000,
    });
    if (r.exitCode !== 0) throw new Error(`variant ${variant} failed (exit ${r.exitCode})`);
    results.push(JSON.parse(r.stdout.toString().trim().split("\n").at(-1)!) as Result);
  }
  for (const [variant, count] of [
    ["CPython small", 0],
    ["CPython plain", objects],
  ] as const) {
    const cpython = runPythonScript<Result>(PYTHON_SCRIPT, [variant, String(count), String(maps)]);
    if (cpython !== undefined) results.push(cpython);
  }
}
console.log(
  `fork Pool(2) in a large parent: ${objects} objects, ${maps} maps of 100 000 numbers, ${new Date().toISOString()}`,
);
console.table(results);
