/**
 * `bun run bench [--quick]`: tinybench comparisons of our backends against
 * CPython's multiprocessing and the raw Bun baselines, in one run, as ratios.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { getAllStartMethods, getContext } from "@multiproc/core";
import { Bench } from "tinybench";
import { runPython } from "./python.ts";
import { noop } from "./targets.ts";

const quick = Bun.argv.includes("--quick");
const bench = new Bench({ time: quick ? 200 : 2000, iterations: quick ? 5 : 20, warmup: true });

const lock = getContext().Lock();
bench.add("Lock acquire+release (ours)", () => {
  lock.acquireSync();
  lock.release();
});
for (const backend of getAllStartMethods()) {
  const mp = getContext(backend);
  bench.add(`start+join (${backend})`, async () => {
    const p = new mp.Process({ target: noop });
    p.start();
    await p.join();
    p.close();
  });
}
bench.add("start+join (raw Bun.spawn bun -e '')", async () => {
  await Bun.spawn([process.execPath, "-e", ""], { stdio: ["ignore", "inherit", "inherit"] }).exited;
});

await bench.run();
const python = runPython(quick);

const rows = bench.tasks.map((t) => {
  const r = t.result as { latency?: { mean?: number } } | undefined;
  return { name: t.name, meanMs: r?.latency?.mean ?? Number.NaN };
});
const pyLock = python?.figures.find((f) => f.name === "Lock acquire+release")?.meanMs;
const pySpawn = python?.figures.find((f) => f.name === "start+join (spawn)")?.meanMs;
const pyFork = python?.figures.find((f) => f.name === "start+join (fork)")?.meanMs;
const against = (name: string): number | undefined => {
  if (name.startsWith("Lock")) return pyLock;
  if (name.includes("fork")) return pyFork;
  if (name.includes("spawn")) return pySpawn;
  return undefined;
};
const fmt = (ms: number) =>
  ms < 0.01 ? `${(ms * 1e6).toFixed(0)} ns` : ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
const lines = [
  `# Benchmarks`,
  ``,
  `Machine: ${availableParallelism()} cores, Bun ${Bun.version}, ${python?.version ?? "no python3"}; mode: ${quick ? "quick" : "full"}; ${new Date().toISOString()}`,
  ``,
  `| workload | ours | CPython | CPython / ours |`,
  `|---|---|---|---|`,
  ...rows.map((r) => {
    const py = against(r.name);
    return `| ${r.name} | ${fmt(r.meanMs)} | ${py === undefined ? "—" : fmt(py)} | ${py === undefined ? "—" : `${(py / r.meanMs).toFixed(1)}×`} |`;
  }),
  ...(python?.figures ?? []).map((f) => `| ${f.name} (CPython) | — | ${fmt(f.meanMs)} | — |`),
];
console.log(lines.join("\n"));
if (!quick) {
  writeFileSync(new URL("../../../docs/benchmarks.md", import.meta.url), `${lines.join("\n")}\n`);
  writeFileSync(
    new URL("../../../docs/benchmarks.json", import.meta.url),
    `${JSON.stringify({ rows, python }, null, 2)}\n`,
  );
}
process.exit(0);
