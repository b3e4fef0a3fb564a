/** The process-wide default start method (Python: `set_start_method` / `get_start_method`). */
import { type BackendName, configuredBackend, parseBackendName } from "./config.ts";
import { ConfigError } from "./errors.ts";

let chosen: BackendName | undefined;

/**
 * Sets the default backend. Like Python, a second call with another method
 * throws unless `force` is set.
 * @throws ConfigError for an unknown name or a second, different choice
 */
export function setStartMethod(name: BackendName, opts?: { force?: boolean }): void {
  const valid = parseBackendName(name, "start method");
  if (chosen !== undefined && chosen !== valid && opts?.force !== true) {
    throw new ConfigError(
      `Start method has already been set to "${chosen}"; pass { force: true } to change it to "${valid}"`,
    );
  }
  chosen = valid;
}

/** The default backend: set, else MULTIPROC_BACKEND, else package.json, else "spawn". */
export function getStartMethod(): BackendName {
  return chosen ?? configuredBackend();
}
