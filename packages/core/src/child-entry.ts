/**
 * The part every child entry that imports the program (spawn's, worker's)
 * shares once its start message is in: take on the parent's environment,
 * decode the bootstrap, install the crash handlers, run, and exit with the
 * code. Written once here; each backend's entry only gets the message.
 */
import { adoptEnvironment, bootstrapChild } from "./child.ts";
import { reportUncaught } from "./child-outcome.ts";
import { loads } from "./codec/decode.ts";

/** What a child entry hands over once it has its start message. */
export interface ChildEntry {
  /** The bootstrap's codec bytes (protocol/bootstrap.ts). */
  readonly bootstrap: Uint8Array;
  /** The parent's environment at `start()`, which this child's becomes. */
  readonly env: Record<string, string>;
  /** How a crash report names this child when its message gives no name. */
  readonly fallbackName: string;
  /**
   * Runs with the decoded message, before the crash handlers and the target:
   * spawn ties a daemon's life to its parent's here.
   */
  readonly beforeRun?: (message: { daemon?: unknown; parent?: { pid?: unknown } }) => void;
  /** Other places this realm reports uncaught errors to (a Worker's "error" event): given the crash handler. */
  readonly alsoCrashOn?: (crash: (error: unknown) => void) => void;
}

/**
 * Runs the child described by `entry` and ends this realm with its exit
 * code (Python: `BaseProcess._bootstrap` and the `os._exit` after it).
 */
export async function runChildEntry(entry: ChildEntry): Promise<never> {
  adoptEnvironment(entry.env);
  const message = loads(entry.bootstrap) as { daemon?: unknown; parent?: { pid?: unknown }; name?: unknown };
  entry.beforeRun?.(message);
  // An error that escapes run() (thrown from a timer, a promise nobody
  // awaits) ends the child with 1 and its stack, as it ends a plain program:
  // Bun otherwise ignores it while the entry's top-level await is pending,
  // and a worker's fate would depend on who started the program.
  const name = typeof message.name === "string" ? message.name : entry.fallbackName;
  const crash = (error: unknown): void => {
    reportUncaught(name, error);
    process.exit(1);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  entry.alsoCrashOn?.(crash);
  process.exit(await bootstrapChild(message));
}
