/**
 * `bun run bench [--quick]`: tinybench comparisons of our backends against
 * CPython's multiprocessing and the raw Bun baselines, in one run, as ratios.
 * Writes docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.svg
 * (quick runs print only, so CI smoke runs leave the docs alone).
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import "@multiproc/backend-spawn";
import { runBaselines } from "./baselines.ts";
import type { Figure } from "./measure.ts";
import { runOurs } from "./ours.ts";
import { runPython } from "./python.ts";
import { type Machine, markdown, svg } from "./report.ts";

const quick = Bun.argv.includes("--quick");
const opts = { quick };
const started = performance.now();

const figures: Figure[] = [...(await runOurs(opts)), ...(await runBaselines(opts))];
const python = runPython(opts);
if (python !== undefined) figures.push(...python.figures);

const machine: Machine = {
  cores: availableParallelism(),
  bun: Bun.version,
  python: python?.version ?? "no python3",
  mode: quick ? "quick" : "full",
  date: new Date().toISOString(),
};
const report = markdown(figures, machine);
console.log(report);
console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
if (!quick) {
  const docs = new URL("../../../docs/", import.meta.url);
  writeFileSync(new URL("benchmarks.md", docs), report);
  writeFileSync(new URL("benchmarks.json", docs), `${JSON.stringify({ machine, figures }, null, 2)}\n`);
  writeFileSync(new URL("benchmarks.svg", docs), `${svg(figures)}\n`);
}
process.exit(0);
