/**
 * Preload of the fork backend: restarts the program once, before it runs,
 * with the JavaScriptCore settings fork children need (see
 * `jsc-settings.ts`). Use it from bunfig.toml:
 *
 *     preload = ["@multiproc/backend-fork/preload"]
 *
 * or as the very first import of the main module.
 */

// The settings are usually there already (a child inherits its parent's
// environment): then load nothing, so every process started under this
// preload (a spawn child, a tool) pays nothing for it.
// (The keys of JSC_SETTINGS, listed here so that this check loads nothing.)
const ready =
  process.env.MULTIPROC_FORK_REEXEC !== undefined ||
  ["BUN_JSC_useConcurrentGC", "BUN_JSC_useConcurrentJIT", "BUN_JSC_useWarmUpMarkedBlocks"].every(
    (k) => process.env[k] !== undefined,
  );
if (!ready) (require("./jsc-settings.ts") as typeof import("./jsc-settings.ts")).ensureJscSettings();
