/**
 * `bun src/fork-faults.ts [--quick] [--helpers]` (issue #23): what a no-op fork child
 * costs, in time and in minor page faults (the steadier figure on a loaded
 * machine: each is a page the child copied or mapped again, about 3 µs
 * here), against CPython's fork in the same run, as ratios. Then where a
 * child's faults come from: a second pass (this file again, with
 * MULTIPROC_FORK_TRACE=1) records each child's own count after each step of
 * its way in and out (backend-fork's fault-trace.ts) and prints the medians.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { getContext, Pipe, type Process } from "@multiproc/core";
import { lastChildTrace, TRACE_STEPS } from "@multiproc/backend-fork";
import { native } from "@multiproc/core/internal";
import { Bench } from "tinybench";
import { joinAll, NO_OP_DEADLINE_MS } from "./join-all.ts";
import { median } from "./measure.ts";
import { runPythonScript } from "./python.ts";
import { noop } from "./start-target.ts";

const quick = Bun.argv.includes("--quick");
/** docs/fork-faults.md: what follows this line is kept when a run rewrites the tables above it. */
const FINDINGS_MARKER = "<!-- findings: kept by fork-faults.ts -->";
const samples = quick ? 20 : 200;
const mp = getContext("fork");

/**
 * One workload's figures: median time of one run, median minor faults per
 * child, and the parent's own minor faults per child (`parentFaults`: each
 * is a page the parent wrote after a fork had made it copy-on-write, or
 * touched for the first time).
 */
interface Cost {
  ms: number;
  faults: number;
  parentFaults: number;
}

if (Bun.argv.includes("--trace")) {
  // The trace pass: cumulative faults at the end of each step, median over the children.
  const rows: Record<string, number[]> = Object.fromEntries(TRACE_STEPS.map((s) => [s, []]));
  for (let i = 0; i < samples; i++) {
    const p = new mp.Process({ target: noop });
    p.start();
    await joinAll([p], NO_OP_DEADLINE_MS);
    p.close();
    const trace = lastChildTrace();
    if (trace === undefined) throw new Error("--trace needs MULTIPROC_FORK_TRACE=1 in the environment");
    for (const s of TRACE_STEPS) rows[s]!.push(trace[s]);
  }
  console.log(JSON.stringify(Object.fromEntries(TRACE_STEPS.map((s) => [s, median(rows[s]!)]))));
  process.exit(0);
}

const helpers = Bun.argv.includes("--helpers");
if (helpers) {
  // As in a program that awaited a receive: the helper threads of async waits
  // (the futex waker's Worker and the readable watcher) run from then on.
  const [a, b] = Pipe();
  setTimeout(() => b.send(1), 30);
  await a.recv();
  a.close();
  b.close();
}

const bench = new Bench({
  time: 0,
  iterations: samples,
  warmupTime: 0,
  warmupIterations: quick ? 2 : 10,
});
const faults = new Map<string, { children: number[]; parent: number[] }>();

/** Adds a task whose every sample also records the minor faults of the children it reaped and the parent's own, per child. */
function task(name: string, children: number, fn: () => Promise<void> | void): void {
  const seen = { children: [] as number[], parent: [] as number[] };
  faults.set(name, seen);
  bench.add(name, async () => {
    const before = native.minorFaults("children");
    const own = native.minorFaults("self");
    await fn();
    seen.parent.push((native.minorFaults("self") - own) / children);
    seen.children.push((native.minorFaults("children") - before) / children);
  });
}

task("raw", 1, () => {
  // fork + _exit + wait from JavaScript: the floor under everything below.
  native.markAllForkable();
  const pid = native.forkProcess();
  if (pid === 0) native.exitNow(0);
  const fd = native.pidfdOpen(pid);
  native.pollReadable(fd, 10_000);
  native.reapChild(fd);
  native.closeFd(fd);
});
task("startJoin", 1, async () => {
  const p = new mp.Process({ target: noop });
  p.start();
  await joinAll([p], NO_OP_DEADLINE_MS);
  p.close();
});
task("startJoinSync", 1, () => {
  const p = new mp.Process({ target: noop });
  p.start();
  p.joinSync(NO_OP_DEADLINE_MS);
  p.close();
});
task("start8", 8, async () => {
  const kids: Process[] = Array.from({ length: 8 }, () => new mp.Process({ target: noop }));
  for (const k of kids) k.start();
  await joinAll(kids, NO_OP_DEADLINE_MS);
  for (const k of kids) k.close();
});
task("pool", 2, async () => {
  const pool = mp.Pool(2);
  pool.close();
  await pool.join();
});

await bench.run();
const ours: Record<string, Cost> = {};
for (const t of bench.tasks) {
  const r = t.result;
  if (r.state !== "completed") throw new Error(`${t.name}: ${r.state === "errored" ? r.error.message : r.state}`);
  // The warm-up samples ran through the same function: keep the timed ones only.
  const f = faults.get(t.name)!;
  const n = r.latency.samplesCount;
  ours[t.name] = {
    ms: r.latency.p50 ?? r.latency.mean,
    faults: median(f.children.slice(-n)),
    parentFaults: median(f.parent.slice(-n)),
  };
}

const python = runPythonScript<Record<string, Cost>>(new URL("./fork-faults.py", import.meta.url).pathname, [
  String(samples),
]);

const trace = Bun.spawnSync([process.execPath, import.meta.path, "--trace", ...(quick ? ["--quick"] : [])], {
  env: { ...process.env, MULTIPROC_FORK_TRACE: "1" },
  stdout: "pipe",
  stderr: "inherit",
  timeout: 300_000,
});

const LABELS: Record<string, [string, string]> = {
  raw: ["fork + _exit + wait", "os.fork + os._exit + waitpid"],
  startJoin: ["start + await join, no-op child", "Process start + join"],
  startJoinSync: ["start + joinSync, no-op child", "Process start + join"],
  start8: ["8 children in parallel", "8 in parallel"],
  pool: ["Pool(2) start + close + join", "Pool(2) start + close + join"],
};
const PY_KEY: Record<string, string> = { startJoinSync: "startJoin" };
const rows = Object.entries(ours).map(([key, c]) => {
  const py = python?.[PY_KEY[key] ?? key];
  return {
    workload: LABELS[key]![0],
    "ours ms": c.ms.toFixed(3),
    "CPython ms": py?.ms.toFixed(3) ?? "-",
    "time ratio (CPython/ours)": py === undefined ? "-" : `${(py.ms / c.ms).toFixed(2)}x`,
    "ours faults/child": c.faults,
    "CPython faults/child": py?.faults ?? "-",
    "ours parent faults/child": c.parentFaults,
    "CPython parent faults/child": py?.parentFaults ?? "-",
  };
});
const when = new Date().toISOString();
console.log(`fork children, ${samples} samples each, ${when}`);
console.table(rows);
let stepRows: Array<{ step: string; cumulative: number; step_faults: number }> = [];
if (trace.exitCode === 0) {
  const steps = JSON.parse(trace.stdout.toString()) as Record<string, number>;
  let last = 0;
  stepRows = TRACE_STEPS.map((s) => {
    const at = steps[s]!;
    const row = { step: s, cumulative: at, step_faults: at - last };
    last = Number.isNaN(at) ? last : at;
    return row;
  });
  console.log("A no-op child's minor faults by step (median of cumulative counts; the step's own share):");
  console.table(stepRows);
} else {
  console.error(`trace pass failed (exit ${trace.exitCode})`);
}

// A full run keeps its figures in docs/fork-faults.md; `bun run bench` appends that file to docs/benchmarks.md.
if (!quick && !helpers) {
  const md = [
    "## Fork child: minor faults and start + join against CPython's fork (#23)",
    "",
    `\`apps/bench/src/fork-faults.ts\`, ${samples} samples each, ${when}, in one run with CPython ` +
      `(native child set-up: ${native.nativeForkReady() ? "on" : `off, ${native.nativeForkUnavailable()}`}).`,
    "",
    "Faults per child: the child's own, then the parent's (pages it wrote after a fork had made them copy-on-write).",
    "",
    "| workload | ours | CPython | × CPython | ours faults/child | CPython faults/child | ours parent faults/child | CPython parent faults/child |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r["ours ms"]} ms | ${r["CPython ms"]} ms | ${r["time ratio (CPython/ours)"]} | ${r["ours faults/child"]} | ${r["CPython faults/child"]} | ${r["ours parent faults/child"]} | ${r["CPython parent faults/child"]} |`,
    ),
    "",
    "A no-op child's minor faults by step (MULTIPROC_FORK_TRACE=1; median of cumulative counts):",
    "",
    "| step | cumulative | the step's own |",
    "|---|---|---|",
    ...stepRows.map((r) => `| ${r.step} | ${r.cumulative} | ${r.step_faults} |`),
    "",
  ].join("\n");
  // The findings written by hand below the marker outlive each run's tables.
  const doc = new URL("../../../docs/fork-faults.md", import.meta.url).pathname;
  const old = existsSync(doc) ? readFileSync(doc, "utf8") : "";
  const at = old.indexOf(FINDINGS_MARKER);
  writeFileSync(doc, at < 0 ? md : `${md}\n${old.slice(at)}`);
}
