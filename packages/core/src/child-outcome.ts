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

/**
 * Runs a child's body to completion; resolves to 0, or to 1 after printing
 * an uncaught error under the name `nameOf()` gives by then (the target may
 * have renamed its Process).
 */
export async function runToExitCode(nameOf: () => string, body: () => unknown): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    reportUncaught(nameOf(), error);
    return 1;
  }
}
