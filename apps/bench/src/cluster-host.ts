/** A `multiproc worker` host of the cluster bench (cluster.ts): one spawn process serving `module`. */
import { dirname, join } from "node:path";

const READY_MS = 15_000;

/** The cluster group's processes still running, killed if the bench itself is stopped (CI's timeout sends SIGTERM). */
const running = new Set<Bun.Subprocess>();
let handlersInstalled = false;

/**
 * Kills `proc` if this process is stopped by a signal before it ends it, so no
 * host or broker outlives a stopped bench (a host would retry its lost broker
 * for ever).
 */
export function killOnStop<P extends Bun.Subprocess>(proc: P): P {
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  if (!handlersInstalled) {
    handlersInstalled = true;
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        for (const p of running) p.kill("SIGKILL");
        process.exit(128 + (signal === "SIGTERM" ? 15 : 2));
      });
    }
  }
  return proc;
}

/** Starts `multiproc worker` for `name` and waits (at most 15 s) for its "serving" line. */
export async function startHost(
  url: string,
  token: string,
  name: string,
  module: string,
  extra: string[] = [],
): Promise<Bun.Subprocess> {
  const bin = join(dirname(Bun.resolveSync("@multiproc/cluster/package.json", import.meta.dir)), "bin/multiproc.ts");
  const args = ["worker", "--servers", url, "--name", name, "--processes", "1", "--backend", "spawn", ...extra, module];
  const proc = killOnStop(
    Bun.spawn([process.execPath, bin, ...args], {
      cwd: join(import.meta.dir, ".."),
      env: { ...process.env, MULTIPROC_CLUSTER_TOKEN: token },
      stdout: "pipe",
      stderr: "inherit",
    }),
  );
  await awaitOutput(proc, "serving", READY_MS, "multiproc worker");
  return proc;
}

/** Waits until `proc` prints `marker`; killed (and this throws) if it has not within `ms`. */
export async function awaitOutput(
  proc: Bun.Subprocess<"ignore" | "pipe" | "inherit", "pipe", "ignore" | "pipe" | "inherit">,
  marker: string,
  ms: number,
  what: string,
): Promise<void> {
  const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
  let out = "";
  for await (const chunk of proc.stdout) {
    out += new TextDecoder().decode(chunk);
    if (out.includes(marker)) break;
  }
  clearTimeout(timer);
  if (!out.includes(marker)) throw new Error(`${what} did not start within ${ms} ms: ${out}`);
}
