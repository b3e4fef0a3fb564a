/**
 * The JavaScriptCore settings a forking parent needs. JSC runs garbage
 * collection and JIT compilation partly on helper threads that park between
 * jobs; a fork child has none of them but inherits their parked state, so
 * its first collection or compilation that hands work to one waits forever.
 * Measured here: 1 hang in 300 forks with the defaults, none in 600 with
 * concurrent GC and JIT off; with those two alone, about 1 in 10 000 still
 * hung on the block warm-up thread's lock, and none in 27 000 with it off too
 * (docs/fork.md, "Hangs"). JSC reads these settings only at start-up, from
 * the environment, so they cannot be switched on in a running program: the
 * preload (`preload.ts`) restarts the program with them before it runs.
 */
import { native } from "@multiproc/core/internal";

/** Environment settings that keep JSC's helper threads out of GC, JIT and heap growth. */
export const JSC_SETTINGS: Readonly<Record<string, string>> = {
  BUN_JSC_useConcurrentGC: "0",
  BUN_JSC_useConcurrentJIT: "0",
  // The "JSCWarmUp" thread pre-faults heap blocks for the allocator and holds
  // the lock that taking one needs: a child forked while it did so waits on
  // that lock at its next new block, forever (the residual hang of docs/fork.md).
  BUN_JSC_useWarmUpMarkedBlocks: "0",
};

/** Set in the environment of a restarted program, so it never restarts twice. */
const REEXEC_MARK = "MULTIPROC_FORK_REEXEC";

const OFF = new Set(["0", "false"]);

/** The settings missing from the environment this process started with. */
export function missingJscSettings(): string[] {
  const env = native.startupEnvironment();
  return Object.keys(JSC_SETTINGS).filter((k) => !OFF.has((env.get(k) ?? "").toLowerCase()));
}

/**
 * Restarts the program in place with `JSC_SETTINGS` when they are missing
 * (same pid, argv and descriptors). Call it before the program does anything
 * visible, from a preload. A setting the user set explicitly to another value
 * is respected (no restart). Returns only when no restart was needed or
 * possible.
 */
export function ensureJscSettings(): void {
  if (process.platform !== "linux" || process.env[REEXEC_MARK] !== undefined) return;
  const env = native.startupEnvironment();
  const unset = Object.keys(JSC_SETTINGS).filter((k) => !env.has(k));
  if (unset.length === 0) return;
  const next: Record<string, string | undefined> = { ...process.env, [REEXEC_MARK]: "1" };
  for (const k of unset) next[k] = JSC_SETTINGS[k];
  native.reexecSelf(next);
  // Still here: execve failed; the fork backend refuses the first fork (hazards.ts).
}
