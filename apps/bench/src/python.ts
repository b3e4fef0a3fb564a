/** Runs CPython's `multiprocessing` workloads through `python3`, when present, in the same run. */

export interface PythonFigure {
  name: string;
  /** Mean time of one operation, in milliseconds. */
  meanMs: number;
}

const SCRIPT = `
import json, multiprocessing as mp, sys, time
def noop(): pass
def timeit(fn, n):
    fn()
    t0 = time.perf_counter()
    for _ in range(n): fn()
    return (time.perf_counter() - t0) * 1000 / n
def start_join(ctx):
    p = ctx.Process(target=noop); p.start(); p.join()
if __name__ == "__main__":
    quick = sys.argv[1] == "quick"
    out = []
    lock = mp.Lock()
    def acq(): lock.acquire(); lock.release()
    n = 200000
    t0 = time.perf_counter()
    for _ in range(n): lock.acquire(); lock.release()
    out.append({"name": "Lock acquire+release", "meanMs": (time.perf_counter() - t0) * 1000 / n})
    for method in ["fork", "spawn"]:
        ctx = mp.get_context(method)
        out.append({"name": f"start+join ({method})", "meanMs": timeit(lambda: start_join(ctx), 5 if method == "spawn" and quick else (20 if method == "spawn" else 100))})
    print(json.dumps(out))
`;

/** CPython's figures, or undefined when python3 is missing or fails. */
export function runPython(quick: boolean): { version: string; figures: PythonFigure[] } | undefined {
  const which = Bun.which("python3");
  if (which === null) return undefined;
  const r = Bun.spawnSync([which, "-c", SCRIPT, quick ? "quick" : "full"], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 300_000,
  });
  if (r.exitCode !== 0) {
    console.error(`python3 benchmark failed: ${r.stderr.toString()}`);
    return undefined;
  }
  const version = Bun.spawnSync([which, "--version"]).stdout.toString().trim();
  return { version, figures: JSON.parse(r.stdout.toString()) as PythonFigure[] };
}
