/** Turns figures into the markdown table, the JSON and the SVG chart. */
import type { Curve, Figure } from "./measure.ts";

export interface Machine {
  cores: number;
  bun: string;
  python: string;
  /** "quick" or "full", with the part when the run had `--only` (e.g. "full, only start"). */
  mode: string;
  date: string;
}

const fmt = (ms: number): string =>
  ms < 0.001 ? `${(ms * 1e6).toFixed(0)} ns` : ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;

const rate = (perSec: number): string =>
  perSec >= 1e6
    ? `${(perSec / 1e6).toFixed(2)} M/s`
    : perSec >= 1e3
      ? `${(perSec / 1e3).toFixed(1)} k/s`
      : `${perSec.toFixed(1)} /s`;

/** The fastest CPython figure of a workload: the bar every system is compared with. */
function cpythonBest(figures: Figure[], workload: string): Figure | undefined {
  return figures
    .filter((f) => f.workload === workload && f.system.startsWith("CPython"))
    .sort((a, b) => a.medianMs - b.medianMs)[0];
}

/** CPython with the same start method as one of our backends, if any. */
function cpythonPeer(figures: Figure[], f: Figure): Figure | undefined {
  const method = f.system.split("/")[1];
  return figures.find((g) => g.workload === f.workload && g.system === `CPython/${method}`);
}

function workloads(figures: Figure[]): string[] {
  return [...new Set(figures.map((f) => f.workload))];
}

/**
 * A scaling curve as a markdown table: one row per size, one column per
 * system; each of ours also as × the fastest CPython at that size.
 */
export function curveTable(curve: Curve): string {
  const systems = [...new Set(curve.points.map((p) => p.system))];
  const sizes = [...new Map(curve.points.map((p) => [p.x, p.label])).entries()].sort((a, b) => a[0] - b[0]);
  const lines = [
    `## ${curve.title}`,
    "",
    `Median time of ${curve.timed}; for ours, in brackets, × the fastest CPython start method at that ${curve.parameter} (>1 is faster).`,
    "",
    `| ${curve.parameter} | ${systems.join(" | ")} |`,
    `|---|${systems.map(() => "---|").join("")}`,
  ];
  for (const [x, label] of sizes) {
    const row = curve.points.filter((p) => p.x === x);
    const py = row.filter((p) => p.system.startsWith("CPython")).map((p) => p.medianMs);
    const best = py.length === 0 ? undefined : Math.min(...py);
    const cells = systems.map((system) => {
      const p = row.find((q) => q.system === system);
      if (p === undefined) return "—";
      const ratio = best === undefined || !system.startsWith("ours/") ? "" : ` (${(best / p.medianMs).toFixed(2)}×)`;
      return `${fmt(p.medianMs)}${ratio}`;
    });
    lines.push(`| ${label} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  return lines.join("\n");
}

/**
 * Where a workload has a BullMQ row, how many times BullMQ's tasks/s each
 * broker-backed system of ours reaches (the cluster's goal, #22: ≥ 3×).
 */
function brokerRatios(figures: Figure[], workload: string): string[] {
  const bullmq = figures.find((f) => f.workload === workload && f.system.startsWith("BullMQ"));
  if (bullmq === undefined) return [];
  return figures
    .filter((f) => f.workload === workload && f.system.startsWith("ours/cluster"))
    .map((f) => `${f.system}: **${(f.opsPerSec / bullmq.opsPerSec).toFixed(2)}× BullMQ's tasks/s**.`)
    .flatMap((line) => [line, ""]);
}

/** A markdown report: one table per workload, ratios against CPython, then the scaling curves. */
export function markdown(figures: Figure[], machine: Machine, curves: Curve[] = []): string {
  const lines = [
    "# Benchmarks",
    "",
    `Machine: ${machine.cores} cores, Bun ${machine.bun}, ${machine.python}; mode: ${machine.mode}; ${machine.date}.`,
    "Median time of one operation (tinybench for Bun, the same workloads timed in CPython's own process); the run uses the fork preload (JavaScriptCore concurrent GC, concurrent JIT and block warm-up off) for every system.",
    "**× CPython** is how many times faster than the fastest CPython start method (>1 is faster);",
    "**× same method** compares with CPython using the same start method. Figures move 2–4× between runs on",
    "this shared machine: compare within one run. Where a workload was timed more than once in a run (the start",
    "rows: ours and CPython's twice each, in turn), each system's better figure is shown.",
    "",
  ];
  for (const w of workloads(figures)) {
    const best = cpythonBest(figures, w);
    lines.push(`## ${w}`, "", "| system | median | rate | × CPython | × same method |", "|---|---|---|---|---|");
    for (const f of figures.filter((g) => g.workload === w).sort((a, b) => a.medianMs - b.medianMs)) {
      const peer = f.system.startsWith("ours/") ? cpythonPeer(figures, f) : undefined;
      const vsBest = best === undefined ? "—" : `${(best.medianMs / f.medianMs).toFixed(2)}×`;
      const vsPeer = peer === undefined ? "—" : `${(peer.medianMs / f.medianMs).toFixed(2)}×`;
      lines.push(`| ${f.system} | ${fmt(f.medianMs)} | ${rate(f.opsPerSec)} | ${vsBest} | ${vsPeer} |`);
    }
    lines.push("", ...brokerRatios(figures, w));
  }
  lines.push("![chart](benchmarks.svg)", "");
  for (const curve of curves) lines.push(curveTable(curve));
  return lines.join("\n");
}

const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A grouped horizontal bar chart: per workload, one bar per system, its length
 * the speed relative to the fastest CPython figure on a log scale (1× marked).
 */
export function svg(figures: Figure[]): string {
  const systems = [...new Set(figures.map((f) => f.system))];
  const colour = new Map(systems.map((s, i) => [s, PALETTE[i % PALETTE.length]!]));
  const label = 320;
  const width = 900;
  const bar = 12;
  const min = -2; // 0.01×
  const max = 3; // 1000×
  const x = (ratio: number) =>
    label + ((Math.log10(Math.min(10 ** max, Math.max(10 ** min, ratio))) - min) / (max - min)) * (width - label - 20);
  let y = 40;
  const parts: string[] = [];
  for (const w of workloads(figures)) {
    const best = cpythonBest(figures, w);
    if (best === undefined) continue;
    const rows = figures.filter((f) => f.workload === w);
    parts.push(`<text x="8" y="${y + 10}" font-weight="bold">${esc(w)}</text>`);
    y += 16;
    for (const f of rows) {
      const ratio = best.medianMs / f.medianMs;
      parts.push(
        `<text x="16" y="${y + bar - 2}" font-size="11">${esc(f.system)}</text>`,
        `<rect x="${label}" y="${y}" width="${Math.max(1, x(ratio) - label).toFixed(1)}" height="${bar}" fill="${colour.get(f.system)}"/>`,
        `<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + bar - 2}" font-size="10">${ratio.toFixed(2)}×</text>`,
      );
      y += bar + 3;
    }
    y += 10;
  }
  const axis = [];
  for (let e = min; e <= max; e++) {
    const px = x(10 ** e);
    axis.push(
      `<line x1="${px}" y1="30" x2="${px}" y2="${y}" stroke="${e === 0 ? "#000" : "#ddd"}"/>`,
      `<text x="${px - 10}" y="24" font-size="10">${10 ** e}×</text>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="14" font-size="13">Speed relative to the fastest CPython multiprocessing figure (log scale, higher is faster)</text>`,
    ...axis,
    ...parts,
    "</svg>",
  ].join("\n");
}
