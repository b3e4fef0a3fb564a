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
 * Runs `child.run()` to completion: 0, or 1 after printing an uncaught
 * error under the child's name by then. A run that returns no promise ends
 * here, with no promise made (in a fork child each would be fresh heap
 * pages, #23); one that returns a promise resolves to the code once it
 * settled. No closure: a fork child would compile each on its way in.
 */
export function runToExitCode(child: ChildRun): number | Promise<number> {
  let result: unknown;
  try {
    result = child.run();
  } catch (error) {
    reportUncaught(child.name, error);
    return 1;
  }
  return isThenable(result) ? settled(child, result) : 0;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

async function settled(child: ChildRun, result: PromiseLike<unknown>): Promise<number> {
  try {
    await result;
    return 0;
  } catch (error) {
    reportUncaught(child.name, error);
    return 1;
  }
}
