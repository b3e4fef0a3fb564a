/**
 * The child's side of every backend (Python: `BaseProcess._bootstrap`): turn
 * the bootstrap message into the child's Process object, run it, and report
 * how it ended as an exit code.
 */
// The files themselves, not the folders' index files: a worker child loads
// this module at every start, and the rest of those folders is not needed here.
import { type RecordedChild, recordChild, setBootstrapping } from "./child-identity.ts";
import { reportUncaught, runToExitCode } from "./child-outcome.ts";
import { loads } from "./codec/decode.ts";
import { importExport } from "./codec/exports.ts";
import type { Process } from "./process.ts";
import { type Bootstrap, parseBootstrap } from "./protocol/bootstrap.ts";
import { inheritStartMethod } from "./start-method.ts";

/**
 * Makes this child's `process.env` the parent's at `start()`: a child made
 * ahead of need (a backend's spare) copied the environment earlier.
 */
export function adoptEnvironment(env: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
}

/**
 * Builds the child's Process from a bootstrap message and runs it.
 * Resolves to the exit code; the backend's entry ends the child with it.
 *
 * A child of the base class is recorded in child-identity.ts, which
 * `process.ts` adopts whenever it loads: a plain target whose module does not
 * load it (nor anything else of core's) runs without it.
 */
export async function bootstrapChild(message: unknown): Promise<number> {
  const boot: Bootstrap = parseBootstrap(message);
  // Before the target's module loads: its top-level code sees them too.
  inheritStartMethod(boot.backend);
  process.argv = boot.argv;
  let run: () => number | Promise<number>;
  try {
    // The parent's resources every child shares (its shared memory tracker): rebuilding them takes them on.
    if (boot.inherit !== undefined) loads(boot.inherit);
    // Importing the program's modules again: one that starts processes at
    // import would start them from every child, so start() refuses meanwhile.
    setBootstrapping((boot.target ?? boot.cls)?.module ?? "the program's modules");
    let target: unknown;
    let cls: unknown;
    let args: unknown[];
    let fields: Record<string, unknown>;
    try {
      target = boot.target === null ? undefined : await importExport(boot.target);
      cls = boot.cls === null ? undefined : await importExport(boot.cls);
      // The child's own start: its arguments may name modules it has not loaded yet.
      args = loads(boot.args, { imports: true }) as unknown[];
      fields = loads(boot.fields, { imports: true }) as Record<string, unknown>;
    } finally {
      setBootstrapping(undefined);
    }
    const opts = {
      target: target as ((...a: unknown[]) => unknown) | undefined,
      args,
      name: boot.name,
      daemon: boot.daemon,
    };
    // Anything else (a subclass, a bad target) goes the long way, where the constructor checks it.
    const plain = cls === undefined && (target === undefined || typeof target === "function") && Array.isArray(args);
    if (plain) {
      const child: RecordedChild = { who: boot, opts, fields };
      recordChild(child);
      // Its Process object, when made, runs it (run() calls the target); else the target runs alone.
      run = () =>
        runToExitCode({
          get name() {
            return child.proc?.name ?? opts.name;
          },
          run: () => (child.proc !== undefined ? child.proc.run() : opts.target?.(...opts.args)),
        });
    } else {
      const m = await import("./process.ts");
      // A subclass is rebuilt as pickle does: without running its constructor,
      // then given its instance fields.
      const proc =
        cls === undefined
          ? new m.Process<unknown[]>(opts)
          : (Reflect.construct(m.Process, [opts], cls as typeof Process) as Process);
      Object.assign(proc, fields);
      m.adoptAsCurrent(proc, boot);
      run = () => m.runProcess(proc);
    }
  } catch (error) {
    reportUncaught(boot.name, error);
    return 1;
  }
  return run();
}
