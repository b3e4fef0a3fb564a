/** One measured figure (or curve), and how tinybench results become figures. */
import { Bench, type FnOptions, type Task } from "tinybench";
import { APART_MS } from "./workloads.ts";

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A workload measured on one system: the time of one operation. */
export interface Figure {
  workload: string;
  /** e.g. "ours/fork", "CPython/spawn", "Bun/Worker postMessage". */
  system: string;
  /** Median time of one operation, in milliseconds. */
  medianMs: number;
  /** Operations per second derived from the median. */
  opsPerSec: number;
}

/** A scaling curve: one workload measured at several sizes (N children, message bytes) on each system. */
export interface Curve {
  title: string;
  /** What varies between rows, e.g. "N" or "message size". */
  parameter: string;
  /** What one figure times, e.g. "the whole batch". */
  timed: string;
  points: CurvePoint[];
}

/** One system at one size of a curve. */
export interface CurvePoint {
  /** The size as a number (children, bytes). */
  x: number;
  /** The size as shown, e.g. "16", "64 KiB". */
  label: string;
  system: string;
  /** Median time of one operation, in milliseconds. */
  medianMs: number;
}

/** Options every suite takes. */
export interface RunOptions {
  quick: boolean;
}

/** A tinybench instance sized for the mode: quick stays under a minute in all. */
export function makeBench(opts: RunOptions): Bench {
  return new Bench({
    time: opts.quick ? 150 : 1500,
    iterations: opts.quick ? 3 : 10,
    warmupTime: opts.quick ? 20 : 200,
    warmupIterations: opts.quick ? 1 : 3,
  });
}

/**
 * A tinybench instance for a workload whose samples wait `APART_MS` before
 * each (the wait is not timed): a fixed number of samples, not a time budget.
 */
export function makeApartBench(opts: RunOptions): Bench {
  return new Bench({ time: 0, iterations: opts.quick ? 5 : 40, warmupTime: 0, warmupIterations: opts.quick ? 1 : 3 });
}

/** Reads a finished task: `per` operations happen in one task iteration. */
export function figureOf(task: Task, workload: string, system: string, per = 1): Figure | undefined {
  const r = task.result;
  if (r.state !== "completed") {
    if (r.state === "errored") console.error(`${system} ${workload}: ${r.error.message}`);
    return undefined;
  }
  const medianMs = (r.latency.p50 ?? r.latency.mean) / per;
  return { workload, system, medianMs, opsPerSec: 1000 / medianMs };
}

/** Registers `fn` as one task and returns a reader for its figure after `bench.run()`. */
export function add(
  bench: Bench,
  workload: string,
  system: string,
  fn: () => unknown,
  per = 1,
  hooks?: Pick<FnOptions, "beforeEach">,
): () => Figure | undefined {
  const name = `${system} :: ${workload}`;
  bench.add(name, fn as () => Promise<void>, hooks);
  return () => {
    const task = bench.getTask(name);
    return task === undefined ? undefined : figureOf(task, workload, system, per);
  };
}

/** Like `add`, for a `makeApartBench` bench: each sample waits `APART_MS` first, untimed. */
export function addApart(bench: Bench, workload: string, system: string, fn: () => unknown): () => Figure | undefined {
  return add(bench, workload, system, fn, 1, { beforeEach: () => Bun.sleep(APART_MS) });
}
