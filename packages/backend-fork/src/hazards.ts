/**
 * Warnings the fork backend gives once per process, at the first fork that
 * runs into a known hazard (the user can do something about each).
 */
import { writeSync } from "node:fs";
import { JSC_SETTINGS, missingJscSettings } from "./jsc-settings.ts";

let checked = false;
/** The settings were missing: children may get stuck on their way in (see `launch`). */
let unsafeRuntime = false;

/** Whether this process runs without the JSC settings fork children need (known after `beforeFork`). */
export function runtimeUnsafeForFork(): boolean {
  return unsafeRuntime;
}

/** Checks the hazards once, right before the first fork. */
export function beforeFork(): void {
  if (checked) return;
  checked = true;
  const missing = missingJscSettings();
  unsafeRuntime = missing.length > 0;
  if (missing.length > 0 && process.env.MULTIPROC_FORK_NO_WARN === undefined) {
    const wanted = Object.entries(JSC_SETTINGS)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    writeSync(
      2,
      `multiproc: warning: the fork backend runs without ${wanted} (missing: ${missing.join(", ")}). ` +
        "A fork child can then hang at its first garbage collection or JIT compilation (about 1 fork in 300 measured), " +
        "and code that first gets hot in a child is never optimized (measured 100x slower). " +
        'Add preload = ["@multiproc/backend-fork/preload"] to bunfig.toml (it restarts the program once with them), ' +
        "or set them in the environment. See docs/fork.md.\n",
    );
  }
}
