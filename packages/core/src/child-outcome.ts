/**
 * How a child's run ends, written once for every path that runs one: its
 * exit code, and an uncaught error printed the way Python prints a child's
 * traceback.
 */

/** Prints an uncaught error the way Python prints a child's traceback. */
export function reportUncaught(name: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  // Loaded at the first error: a child that ends well never needs it, and each module costs a child's start.
  const { writeAllSync } = require("./native/write-all.ts") as typeof import("./native/write-all.ts");
  writeAllSync(2, new TextEncoder().encode(`Process ${name}:\n${text}\n`));
}

/** What a child runs: a Process, or what stands for one. */
export interface ChildRun {
  /** Read when the run fails: the target may have renamed its Process. */
  readonly name: string;
  run(): unknown;
}

/**
 * Runs `child.run()` to completion; resolves to 0, or to 1 after printing
 * an uncaught error under the child's name by then. No closure: a fork
 * child would compile each on its way in (#23).
 */
export async function runToExitCode(child: ChildRun): Promise<number> {
  try {
    await child.run();
    return 0;
  } catch (error) {
    reportUncaught(child.name, error);
    return 1;
  }
}
