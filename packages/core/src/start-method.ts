/** The process-wide default start method (Python: `set_start_method` / `get_start_method`). */
import { type BackendName, configuredBackend, parseBackendName } from "./config.ts";
import { ConfigError } from "./errors.ts";

let chosen: BackendName | undefined;
/** Whether `chosen` is the method that started this child, set by its bootstrap. */
let inherited = false;

/**
 * Sets the default backend. Like Python, a second call with another method
 * throws unless `force` is set; in a child, the method that started it
 * counts as the first call (Python's bootstrap sets it).
 * @throws ConfigError for an unknown name or a second, different choice
 */
export function setStartMethod(name: BackendName, opts?: { force?: boolean }): void {
  const valid = parseBackendName(name, "start method");
  if (chosen !== undefined && chosen !== valid && opts?.force !== true) {
    const by = inherited ? " (the method that started this process)" : "";
    throw new ConfigError(
      `Start method has already been set to "${chosen}"${by}; pass { force: true } to change it to "${valid}"`,
    );
  }
  chosen = valid;
  inherited = false;
}

/**
 * In a child, before its program runs: the method that started it becomes
 * the default, so its own children start the same way (Python:
 * `_force_start_method` in `BaseProcess._bootstrap`, `set_start_method` in
 * spawn's `prepare`).
 */
export function inheritStartMethod(name: BackendName, dry = false): void {
  // dry: compiled ahead only (process.ts warmUpInheritedChild).
  if (dry) return;
  chosen = name;
  inherited = true;
}

/** The default backend: set (in a child: the one that started it), else MULTIPROC_BACKEND, else package.json, else "spawn". */
export function getStartMethod(): BackendName {
  return chosen ?? configuredBackend();
}
