/**
 * The child's side of every backend (Python: `BaseProcess._bootstrap`): turn
 * the bootstrap message into the child's Process object, run it, and report
 * how it ended as an exit code.
 */
import { writeSync } from "node:fs";
import { loads, resolveExport } from "./codec/index.ts";
import type { Process } from "./process.ts";
import { type Bootstrap, type ExportRef, parseBootstrap } from "./protocol/index.ts";

/** Prints an uncaught error the way Python prints a child's traceback. */
export function reportUncaught(name: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  writeSync(2, `Process ${name}:\n${text}\n`);
}

/** Runs `proc.run()` to completion; resolves to 0, or 1 after printing an uncaught error. */
export async function runProcess(proc: Process): Promise<number> {
  try {
    await proc.run();
    return 0;
  } catch (error) {
    reportUncaught(proc.name, error);
    return 1;
  }
}

async function load(ref: ExportRef): Promise<unknown> {
  // import() first: it evaluates the module even when it uses top-level await,
  // which resolveExport's synchronous require cannot.
  await import(ref.module);
  return resolveExport(ref);
}

/**
 * Builds the child's Process from a bootstrap message and runs it.
 * Resolves to the exit code; the backend's entry ends the child with it.
 */
export async function bootstrapChild(message: unknown): Promise<number> {
  const boot: Bootstrap = parseBootstrap(message);
  const { Process, adoptAsCurrent } = await import("./process.ts");
  let proc: Process;
  try {
    const target = boot.target === null ? undefined : await load(boot.target);
    const cls = boot.cls === null ? undefined : await load(boot.cls);
    const args = loads(boot.args) as unknown[];
    const fields = loads(boot.fields) as Record<string, unknown>;
    const opts = { target: target as Process["run"] | undefined, args, name: boot.name, daemon: boot.daemon };
    // A subclass is rebuilt as pickle does: without running its constructor,
    // then given its instance fields.
    proc =
      cls === undefined ? new Process(opts) : (Reflect.construct(Process, [opts], cls as typeof Process) as Process);
    Object.assign(proc, fields);
  } catch (error) {
    reportUncaught(boot.name, error);
    return 1;
  }
  adoptAsCurrent(proc, boot);
  return runProcess(proc);
}
