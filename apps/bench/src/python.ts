/** CPython's multiprocessing on the same workloads, through `python3` when present, in the same run. */
import type { Figure, RunOptions } from "./measure.ts";

const SCRIPT = new URL("./python-suite.py", import.meta.url).pathname;

/**
 * Runs one of the Python scripts next to this file (a file, not `-c`: CPython's
 * spawn and forkserver children re-import the main module by path) and parses
 * the JSON it prints; undefined without python3 or when the script fails.
 */
export function runPythonScript<T>(script: string, args: string[], timeoutMs = 600_000): T | undefined {
  const python = Bun.which("python3");
  if (python === null) return undefined;
  const r = Bun.spawnSync([python, script, ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  if (r.exitCode !== 0) {
    console.error(`python3 ${script} failed: ${r.stderr.toString()}`);
    return undefined;
  }
  return JSON.parse(r.stdout.toString()) as T;
}

/** The python3 version string, or undefined without python3. */
export function pythonVersion(): string | undefined {
  const python = Bun.which("python3");
  return python === null ? undefined : Bun.spawnSync([python, "--version"]).stdout.toString().trim();
}

/** CPython's figures and version, or undefined when python3 is missing or fails. */
export function runPython(opts: RunOptions): { version: string; figures: Figure[] } | undefined {
  const raw = runPythonScript<{ workload: string; system: string; medianMs: number }[]>(SCRIPT, [
    opts.quick ? "quick" : "full",
  ]);
  const version = pythonVersion();
  if (raw === undefined || version === undefined) return undefined;
  return { version, figures: raw.map((f) => ({ ...f, opsPerSec: 1000 / f.medianMs })) };
}
