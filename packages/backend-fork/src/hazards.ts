/**
 * The known hazards of forking this process, looked at before each fork.
 * Missing JSC settings refuse the fork (`BackendError`) unless the user
 * accepted the risk (`MULTIPROC_FORK_UNSAFE=1`); the other hazards are warned
 * about once per process. Each makes `launch` check that children start.
 */
import { writeSync } from "node:fs";
import { BackendError } from "@multiproc/core";
import { native, runBeforeFork } from "@multiproc/core/internal";
import { JSC_SETTINGS, missingJscSettings } from "./jsc-settings.ts";

/** Set to fork without the JSC settings anyway, with a warning (docs/fork.md). */
export const UNSAFE_ENV = "MULTIPROC_FORK_UNSAFE";

/** The settings missing at start-up, once looked at. */
let missing: string[] | undefined;
/** The settings were missing: children may get stuck on their way in. */
let settingsMissing = false;
/** Worker threads of this process at the last fork. */
let workerThreads = 0;
let threadsWarned = false;

/** What is missing and what it costs. */
function settingsText(missing: string[]): string {
  const wanted = Object.entries(JSC_SETTINGS)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return (
    `runs without ${wanted} (missing: ${missing.join(", ")}). ` +
    "A fork child can then hang at its first garbage collection or JIT compilation (about 1 fork in 300 measured), " +
    "and code that first gets hot in a child is never optimized (measured 100x slower)"
  );
}

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

/**
 * Looks at the hazards right before a fork; warns about each once per process.
 * @throws BackendError when the JSC settings are missing and the user did not accept the risk
 */
export function beforeFork(): void {
  if (missing === undefined) {
    missing = missingJscSettings();
    settingsMissing = missing.length > 0;
    if (settingsMissing && process.env[UNSAFE_ENV] !== undefined)
      warn(`the fork backend ${settingsText(missing)} (${UNSAFE_ENV} is set)`);
  }
  if (settingsMissing && process.env[UNSAFE_ENV] === undefined) {
    throw new BackendError(
      `The fork backend refuses to fork: it ${settingsText(missing)}. Add to your app's bunfig.toml both ` +
        'preload = ["@multiproc/backend-fork/preload"] (for bun run) and, under [test], ' +
        'preload = ["@multiproc/backend-fork/preload"] (for bun test); the preload restarts the program once with ' +
        `the settings. Or set them in the environment, or set ${UNSAFE_ENV}=1 to fork without them with a warning. ` +
        "See docs/fork.md",
    );
  }
  // Threads kept by the library for later (the worker backend's spare) go first.
  runBeforeFork();
  // About 20 µs: cheap next to a fork, and Workers come and go. Only whether
  // there are any is used: the count may include, for a moment, helper threads
  // a Worker just started (see `workerThreadCount`), so the warning names none
  // (as Python's "is multi-threaded" does not).
  workerThreads = native.workerThreadCount();
  if (workerThreads > 0 && !threadsWarned) {
    threadsWarned = true;
    warn(
      "forking while Worker threads run in this process (Workers, worker-backend children, thread pools). " +
        "A fork child can hang on a runtime lock such a thread held at that moment (as in Python, fork in a " +
        "multi-threaded process is unsafe): one stuck before it starts is forked again, one stuck later is " +
        "killed (exitCode -9; a Pool fails that task). Fork before starting Workers, or use the spawn backend. " +
        "See the Hangs section of docs/fork.md.",
    );
  }
}
