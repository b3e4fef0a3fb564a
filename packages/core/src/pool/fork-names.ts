/**
 * Which exported functions a fork Pool's worker finds by reference (#18): a
 * fork worker holds a copy of its parent's modules as they were when it was
 * forked, and looks an export up there with a synchronous `require`.
 */
import { type ExportRef, findExport, resolveExport } from "../codec/exports.ts";

/** What a fork worker can look up by name, noted in the parent right before it forks. */
export interface ForkedNames {
  /** Modules that had finished evaluating (`require.cache`). */
  readonly modules: ReadonlySet<string>;
  /** Exports of the main module, still evaluating (so not in `require.cache`), that were initialised. */
  readonly mainExports: ReadonlySet<string>;
}

/** What a worker forked now can look up by name. */
export function forkedNames(): ForkedNames {
  const modules = new Set(Object.keys(require.cache));
  const mainExports = new Set<string>();
  if (!modules.has(Bun.main)) {
    let ns: unknown;
    try {
      ns = require(Bun.main);
    } catch {
      // In its top-level await: require() refuses it, here and in the worker.
    }
    if (typeof ns === "object" && ns !== null) {
      // Reflect.ownKeys: Object.keys reads each binding, and throws at the first one still in its TDZ.
      for (const key of Reflect.ownKeys(ns)) {
        if (typeof key !== "string") continue;
        try {
          (ns as Record<string, unknown>)[key];
          mainExports.add(key);
        } catch {
          // Not initialised yet (`export const` below the line that forks): the worker's copy never will be.
        }
      }
    }
  }
  return { modules, mainExports };
}

/** Whether a worker forked with `names` finds `ref`. */
export function knowsName(names: ForkedNames, ref: ExportRef): boolean {
  return names.modules.has(ref.module) || (ref.module === Bun.main && names.mainExports.has(ref.name));
}

/**
 * The reference a fork worker may find `fn` by: an export that this process
 * resolves synchronously to `fn` too. An export of a main module still in
 * its top-level await has none: require() refuses such a module, and
 * import() waits for its evaluation to end, which it never does in a fork
 * child. Such a function travels like a closure.
 */
export function forkRef(fn: (...args: never[]) => unknown): ExportRef | undefined {
  const ref = findExport(fn);
  if (ref === undefined) return undefined;
  try {
    return resolveExport(ref) === fn ? ref : undefined;
  } catch {
    return undefined;
  }
}
