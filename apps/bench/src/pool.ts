/**
 * The Pool workloads: our Pool on every backend against CPython's Pool (and
 * ProcessPoolExecutor), piscina and tinypool, and the cluster Pool against
 * BullMQ (bullmq.ts), in one run. The task is
 * trivial (`x * x`) so that each figure is the pool's own cost.
 */
import { type BackendName, getAllStartMethods, getContext, type Pool } from "@multiproc/core";
import { add, type Figure, makeBench, type RunOptions } from "./measure.ts";
import { square } from "./pool-task.ts";
import { runPythonScript } from "./python.ts";

/** The Pool workloads, by name. */
export const PW = {
  start: "Pool start + close + join, 2 workers",
  rt: "Pool applyAsync round trip, trivial task",
  inFlight: "Pool, 10 000 trivial tasks in flight at chunksize 1 (per task)",
  map: "Pool map of 100 000 trivial tasks, default chunksize (per task)",
} as const;

const TASK_FILE = new URL("./pool-task.ts", import.meta.url).href;
const PY_SCRIPT = new URL("./pool.py", import.meta.url).pathname;

/**
 * A fork child can still hang on its way in (about 1 fork in 1000, see
 * docs/fork.md); a pool's join would then wait forever, like CPython's. Here
 * it fails that one measurement instead of the run.
 */
const JOIN_DEADLINE_MS = 20_000;

async function joinWithin(pool: Pool, ms: number): Promise<void> {
  let timer: Timer | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  const outcome = await Promise.race([pool.join(), late]);
  clearTimeout(timer);
  if (outcome === "late") {
    pool.terminate();
    throw new Error(`a pool's workers did not exit within ${ms} ms after close(); terminated`);
  }
}

/** What every pool offers the benchmark: run one task, and end. */
interface Runner {
  system: string;
  run(x: number): Promise<unknown>;
  map?(items: number[]): Promise<unknown>;
  end(): Promise<void>;
}

/** The JS pools on Bun. (tinypool's child_process runtime needs `process.send`, which its children lack on Bun 1.4.) */
async function jsPools(): Promise<Runner[]> {
  const [{ Piscina }, { default: Tinypool }] = await Promise.all([import("piscina"), import("tinypool")]);
  const piscina = new Piscina({ filename: TASK_FILE, minThreads: 2, maxThreads: 2 });
  const threads = new Tinypool({ filename: TASK_FILE, minThreads: 2, maxThreads: 2 });
  return [
    { system: "piscina (threads)", run: (x) => piscina.run(x), end: () => piscina.destroy() },
    { system: "tinypool (threads)", run: (x) => threads.run(x), end: () => threads.destroy() },
  ];
}

/**
 * The systems measured together: one backend of ours, the JS pools, or
 * CPython's (its own script). Each group runs in a process of its own
 * (pool-phase.ts): a fork pool must not fork while another group's worker
 * threads run (see the Hangs section of docs/fork.md).
 */
export type PoolGroup = BackendName | "js" | "python" | "cluster" | "bullmq";

/** Every group, in the order they run. */
export function poolGroups(): PoolGroup[] {
  return [...getAllStartMethods(), "js", "python", "cluster", "bullmq"];
}

/** Runs the Pool workloads of one group; returns one figure per workload and system. */
export async function runPoolGroup(opts: RunOptions, group: PoolGroup): Promise<Figure[]> {
  if (group === "python") return pythonPools(opts);
  // Each group imports only its own systems: a fork pool's parent that had
  // loaded the others' (BullMQ, the NATS client, piscina) took ~1 ms more a
  // Pool start (a larger parent to fork), and CPython's script imports only
  // multiprocessing.
  if (group === "cluster") return (await import("./cluster.ts")).runClusterGroup(opts);
  if (group === "bullmq") return (await import("./bullmq.ts")).runBullmqGroup(opts);
  const roundTrips = opts.quick ? 50 : 200;
  const inFlight = opts.quick ? 2_000 : 10_000;
  const mapped = opts.quick ? 20_000 : 100_000;
  const readers: (() => Figure | undefined)[] = [];
  const runners: Runner[] = [];
  if (group === "js") runners.push(...(await jsPools()));
  else {
    const mp = getContext(group);
    // A bench of its own, run first: tinybench warms every task of a bench
    // up before it times any, and the other tasks' warm-ups leave the
    // garbage of 100 000 mapped results behind, which each fork then pays
    // for (fork's cost grows with the parent's resident memory, docs/fork.md).
    const starts = makeBench(opts);
    readers.push(
      add(starts, PW.start, `ours/${group}`, async () => {
        const pool = mp.Pool(2);
        pool.close();
        await joinWithin(pool, JOIN_DEADLINE_MS);
      }),
    );
    await starts.run();
    const pool = mp.Pool(2);
    runners.push({
      system: `ours/${group}`,
      run: (x) => pool.applyAsync(square, [x]).get(),
      map: (items) => pool.map(square, items),
      end: async () => pool.terminate(),
    });
  }
  const bench = makeBench(opts);
  const items = Array.from({ length: mapped }, (_, i) => i);
  for (const r of runners) {
    await r.run(1); // Started and warm before timing.
    readers.push(
      add(
        bench,
        PW.rt,
        r.system,
        async () => {
          for (let i = 0; i < roundTrips; i++) await r.run(i);
        },
        roundTrips,
      ),
    );
    readers.push(
      add(
        bench,
        PW.inFlight,
        r.system,
        async () => {
          await Promise.all(Array.from({ length: inFlight }, (_, i) => r.run(i)));
        },
        inFlight,
      ),
    );
    const map = r.map;
    if (map !== undefined) readers.push(add(bench, PW.map, r.system, () => map(items), mapped));
  }
  await bench.run();
  for (const r of runners) await r.end();
  return readers.map((read) => read()).filter((f): f is Figure => f !== undefined);
}

/** CPython's Pool and ProcessPoolExecutor, by pool.py; none without python3. */
function pythonPools(opts: RunOptions): Figure[] {
  const python = runPythonScript<PythonFigure[]>(PY_SCRIPT, [opts.quick ? "quick" : "full"]);
  const names = { start: PW.start, rt: PW.rt, inflight: PW.inFlight, map: PW.map };
  return (python ?? []).map((f) => ({
    workload: names[f.workload],
    system: f.system,
    medianMs: f.medianMs,
    opsPerSec: 1000 / f.medianMs,
  }));
}

interface PythonFigure {
  workload: "start" | "rt" | "inflight" | "map";
  system: string;
  medianMs: number;
}
