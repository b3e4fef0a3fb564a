/**
 * The child's side of every backend (Python: `BaseProcess._bootstrap`): turn
 * the bootstrap message into the child's Process object, run it, and report
 * how it ended as an exit code.
 */
// The files themselves, not the folders' index files: a worker child loads
// this module at every start, and the rest of those folders is not needed here.
import { loads } from "./codec/decode.ts";
import { importExport } from "./codec/exports.ts";
import type { ChildIdentity, Process, ProcessOptions } from "./process.ts";
import { type Bootstrap, parseBootstrap } from "./protocol/bootstrap.ts";
import { inheritStartMethod } from "./start-method.ts";

/** Prints an uncaught error the way Python prints a child's traceback. */
export function reportUncaught(name: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  // Loaded at the first error: a child that ends well never needs it, and each module costs a child's start.
  const { writeAllSync } = require("./native/write-all.ts") as typeof import("./native/write-all.ts");
  writeAllSync(2, new TextEncoder().encode(`Process ${name}:\n${text}\n`));
}

/**
 * Makes this child's `process.env` the parent's at `start()`: a child made
 * ahead of need (a backend's spare) copied the environment earlier.
 */
export function adoptEnvironment(env: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
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

/** What `process.ts` hands this file as it loads. */
export interface ProcessModule {
  readonly Process: typeof Process;
  adoptAsCurrent(proc: Process, who: ChildIdentity): void;
}

/** A child of the base class, started before anything loaded `process.ts`. */
interface Deferred {
  readonly opts: ProcessOptions & { args: unknown[] };
  readonly fields: Record<string, unknown>;
  readonly boot: Bootstrap;
}

/** The module this child is importing to find its target, while it does (Python's bootstrapping phase). */
let importing: string | undefined;

/** The module this child is importing to find its target, while it does; else undefined. */
export function bootstrapping(): string | undefined {
  return importing;
}

/** `process.ts`, once something in this realm has loaded it. */
let processModule: ProcessModule | undefined;
/** The child whose Process object waits for `process.ts` to load. */
let deferred: Deferred | undefined;
/** That object, once made. */
let deferredProc: Process | undefined;

/**
 * Called by `process.ts` as it finishes loading. A child that was started
 * without it gets its Process object now, before any code can ask for it.
 */
export function processModuleLoaded(m: ProcessModule): void {
  processModule = m;
  const d = deferred;
  if (d === undefined) return;
  deferred = undefined;
  deferredProc = new m.Process(d.opts);
  Object.assign(deferredProc, d.fields);
  m.adoptAsCurrent(deferredProc, d.boot);
}

/**
 * Builds the child's Process from a bootstrap message and runs it.
 * Resolves to the exit code; the backend's entry ends the child with it.
 *
 * A plain target whose module does not load `process.ts` (nor anything
 * else of core's) runs without it: loading it would cost each worker child
 * milliseconds at start. Its Process object is made when `process.ts` loads,
 * which is before anyone can ask for it.
 */
export async function bootstrapChild(message: unknown): Promise<number> {
  const boot: Bootstrap = parseBootstrap(message);
  // Before the target's module loads: its top-level code sees them too.
  inheritStartMethod(boot.backend);
  process.argv = boot.argv;
  let m: ProcessModule | undefined;
  let proc: Process;
  try {
    // The parent's resources every child shares (its shared memory tracker): rebuilding them takes them on.
    if (boot.inherit !== undefined) loads(boot.inherit);
    // Importing the program's modules again: one that starts processes at
    // import would start them from every child, so start() refuses meanwhile.
    importing = (boot.target ?? boot.cls)?.module ?? "the program's modules";
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
      importing = undefined;
    }
    const opts = {
      target: target as ((...a: unknown[]) => unknown) | undefined,
      args,
      name: boot.name,
      daemon: boot.daemon,
    };
    // Anything else (a subclass, a bad target) goes the long way, where the constructor checks it.
    const plain = cls === undefined && (target === undefined || typeof target === "function") && Array.isArray(args);
    m = processModule;
    if (plain && m === undefined) {
      deferred = { opts, fields, boot };
      return await runDeferred(opts);
    }
    m ??= await loadProcessModule();
    // A subclass is rebuilt as pickle does: without running its constructor,
    // then given its instance fields.
    proc =
      cls === undefined
        ? new m.Process<unknown[]>(opts)
        : (Reflect.construct(m.Process, [opts], cls as typeof Process) as Process);
    Object.assign(proc, fields);
  } catch (error) {
    reportUncaught(boot.name, error);
    return 1;
  }
  m.adoptAsCurrent(proc, boot);
  return runProcess(proc);
}

async function loadProcessModule(): Promise<ProcessModule> {
  await import("./process.ts"); // it calls processModuleLoaded
  return processModule!;
}

/** What `runProcess` does for a base-class Process, before its object exists. */
async function runDeferred(opts: Deferred["opts"]): Promise<number> {
  try {
    if (opts.target !== undefined) await (opts.target as (...a: unknown[]) => unknown)(...opts.args);
    return 0;
  } catch (error) {
    // The name the Process has by now, if the target asked for its object (and renamed it).
    reportUncaught(deferredProc?.name ?? opts.name ?? "", error);
    return 1;
  }
}
