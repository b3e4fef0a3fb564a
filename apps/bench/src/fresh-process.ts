/**
 * Runs one of this app's scripts in a new Bun process and takes the figures
 * it prints as JSON. For rows that start processes: fork(2) and a fork
 * child's end cost more the larger the parent and the more threads it has
 * (docs/fork.md), and by then the main run's process has grown with every
 * earlier workload, while CPython's figures come from a fresh python3.
 */
import type { Figure } from "./measure.ts";

/**
 * Runs `src/<script> ...args` (cwd: this app, so its bunfig.toml's fork
 * preload applies) for at most `limitMs`; its stdout must be a JSON array of
 * figures. A script that fails or runs out of time is reported on stderr,
 * naming `what`, and gives no figures.
 */
export async function figuresFromFreshProcess(
  script: string,
  args: readonly string[],
  limitMs: number,
  what: string,
): Promise<Figure[]> {
  const child = Bun.spawn([process.execPath, new URL(script, import.meta.url).pathname, ...args], {
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "pipe",
    stderr: "inherit",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  clearTimeout(timer);
  if (code === 0) return JSON.parse(out) as Figure[];
  console.error(
    child.signalCode === "SIGKILL"
      ? `bench: ${what} did not finish within ${limitMs / 1000} s; its rows are missing`
      : `bench: ${what} failed (exit code ${code}); its rows are missing`,
  );
  return [];
}
