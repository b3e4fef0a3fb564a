/**
 * The known hazards of forking this process, looked at before each fork:
 * each is warned about once per process (the user can do something about
 * each), and makes `launch` check that children start (see there).
 */
import { writeSync } from "node:fs";
import { native, runBeforeFork } from "@multiproc/core/internal";
import { JSC_SETTINGS, missingJscSettings } from "./jsc-settings.ts";

let settingsChecked = false;
/** The settings were missing: children may get stuck on their way in. */
let settingsMissing = false;
/** Worker threads of this process at the last fork. */
let workerThreads = 0;
let threadsWarned = false;

function warn(text: string): void {
  if (process.env.MULTIPROC_FORK_NO_WARN === undefined) writeSync(2, `multiproc: warning: ${text}\n`);
}

/**
 * Whether a fork now may leave the child stuck on a runtime lock: the JSC
 * settings are missing, or Worker threads run (known after `beforeFork`).
 */
export function forkMayHang(): boolean {
  return settingsMissing || workerThreads > 0;
}

/** Looks at the hazards right before a fork; warns about each once per process. */
export function beforeFork(): void {
  if (!settingsChecked) {
    settingsChecked = true;
    const missing = missingJscSettings();
    settingsMissing = missing.length > 0;
    if (settingsMissing) {
      const wanted = Object.entries(JSC_SETTINGS)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      warn(
        `the fork backend runs without ${wanted} (missing: ${missing.join(", ")}). ` +
          "A fork child can then hang at its first garbage collection or JIT compilation (about 1 fork in 300 measured), " +
          "and code that first gets hot in a child is never optimized (measured 100x slower). " +
          'Add preload = ["@multiproc/backend-fork/preload"] to bunfig.toml (it restarts the program once with them), ' +
          "or set them in the environment. See docs/fork.md.",
      );
    }
  }
  // Threads kept by the library for later (the worker backend's spare) go first.
  runBeforeFork();
  // About 20 µs: cheap next to a fork, and Workers come and go.
  workerThreads = native.workerThreadCount();
  if (workerThreads > 0 && !threadsWarned) {
    threadsWarned = true;
    warn(
      `forking while ${workerThreads} Worker thread(s) run in this process (Workers, worker-backend children, thread pools). ` +
        "A fork child can hang on a runtime lock such a thread held at that moment (as in Python, fork in a " +
        "multi-threaded process is unsafe): one stuck before it starts is forked again, one stuck later is " +
        "killed (exitCode -9; a Pool fails that task). Fork before starting Workers, or use the spawn backend. " +
        "See the Hangs section of docs/fork.md.",
    );
  }
}
