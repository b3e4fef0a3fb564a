/**
 * Backend name → backend, one table (Python: `context._concrete_contexts`).
 * Backends live in their own packages and are loaded on first use, so an app
 * pays only for the backends it picks.
 */
import type { Backend } from "./backend.ts";
import type { BackendName } from "./config.ts";
import { ConfigError } from "./errors.ts";

/** The package that implements each backend. */
export const backendPackages: Record<BackendName, string> = {
  fork: "@multiproc/backend-fork",
  spawn: "@multiproc/backend-spawn",
  worker: "@multiproc/backend-worker",
};

const loaded = new Map<BackendName, Backend>();

/** Lets a backend package register itself when imported (or a test register a fake). */
export function registerBackend(backend: Backend): void {
  loaded.set(backend.name, backend);
}

/** Where to resolve a backend package from: core itself, the app's main module, the working directory. */
function resolveBackend(specifier: string): string | undefined {
  // node:path only here: importing it costs each child realm about 1 ms.
  const { dirname } = require("node:path") as typeof import("node:path");
  for (const from of [import.meta.dir, dirname(Bun.main), process.cwd()]) {
    try {
      return Bun.resolveSync(specifier, from);
    } catch {
      // Not reachable from here: try the next place.
    }
  }
  return undefined;
}

/** The backend called `name`, loading its package on first use. @throws ConfigError */
export function loadBackend(name: BackendName): Backend {
  const known = loaded.get(name);
  if (known !== undefined) return known;
  const specifier = backendPackages[name];
  const path = resolveBackend(specifier);
  if (path === undefined) {
    throw new ConfigError(
      `Backend "${name}" is not installed: add the package ${specifier} to your app (bun add ${specifier})`,
    );
  }
  const mod = require(path) as { backend?: Backend };
  if (mod.backend === undefined || mod.backend.name !== name) {
    throw new ConfigError(`Package ${specifier} does not export a backend named "${name}"`);
  }
  loaded.set(name, mod.backend);
  return mod.backend;
}
