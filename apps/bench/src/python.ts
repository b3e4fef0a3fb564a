/** CPython's multiprocessing on the same workloads, through `python3` when present, in the same run. */
import type { Figure, RunOptions } from "./measure.ts";

const SCRIPT = new URL("./python-suite.py", import.meta.url).pathname;

/** CPython's figures and version, or undefined when python3 is missing or fails. */
export function runPython(opts: RunOptions): { version: string; figures: Figure[] } | undefined {
  const python = Bun.which("python3");
  if (python === null) return undefined;
  const r = Bun.spawnSync([python, SCRIPT, opts.quick ? "quick" : "full"], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 600_000,
  });
  if (r.exitCode !== 0) {
    console.error(`python3 benchmark failed: ${r.stderr.toString()}`);
    return undefined;
  }
  const version = Bun.spawnSync([python, "--version"]).stdout.toString().trim();
  const raw = JSON.parse(r.stdout.toString()) as { workload: string; system: string; medianMs: number }[];
  return { version, figures: raw.map((f) => ({ ...f, opsPerSec: 1000 / f.medianMs })) };
}
