/**
 * Functions and classes by reference: find which module exports a value, and
 * import it again on the other side (mirrors pickle's `whichmodule` and `find_class`),
 * and which modules a received payload may name (#16).
 */

import { PicklingError } from "../errors.ts";

/** Where an exported function or class lives: an absolute module path and an export name. */
export interface ExportRef {
  readonly module: string;
  readonly name: string;
}

/** A function or a class: what can travel by reference. */
export type Exportable = ((...args: never[]) => unknown) | (abstract new (...args: never[]) => unknown);

/**
 * How an error names a function or class: `function "work"`, `class "Job"`,
 * or `<anonymous function>`, also for an arrow whose only name is the
 * option key it was written under (`{ target: () => ... }` is named "target").
 */
export function describeFunction(fn: unknown): string {
  if (typeof fn !== "function") return typeof fn;
  const source = Function.prototype.toString.call(fn);
  const what = source.startsWith("class") ? "class" : "function";
  const arrow = /^(async\s*)?(\(|[\p{L}_$][\p{L}\p{N}_$]*\s*=>)/u.test(source);
  if (fn.name === "" || (arrow && fn.name === "target")) return `<anonymous ${what}>`;
  return `${what} "${fn.name}"`;
}

const found = new WeakMap<object, ExportRef>();
// Values searched for in vain, valid while no module has been added to require.cache.
let misses = new WeakSet<object>();
let missesModuleCount = -1;
const resolved = new Map<string, unknown>();
/** Modules a payload may name although this realm has not loaded them (`allowImports`). */
const allowed = new Set<string>();

/** The export name under which `ns` holds `value`; each read guarded, for `export const` in TDZ. */
function exportName(ns: unknown, value: unknown): string | undefined {
  if ((typeof ns !== "object" && typeof ns !== "function") || ns === null) return undefined;
  for (const key of Reflect.ownKeys(ns)) {
    if (typeof key !== "string") continue;
    try {
      if ((ns as Record<string, unknown>)[key] === value) return key;
    } catch {
      // A binding not initialised yet: the module is still evaluating.
    }
  }
  return undefined;
}

function search(module: string, value: unknown): ExportRef | undefined {
  let ns: unknown;
  try {
    ns = require(module);
  } catch {
    return undefined;
  }
  const name = exportName(ns, value);
  return name === undefined ? undefined : { module, name };
}

const mainExports = new Map<string, Set<string>>();

/**
 * A main module that uses top-level await cannot be `require`d while it
 * evaluates, so its namespace is out of reach. Its source still says what it
 * exports: accept `value` when main exports a binding of its name. (A local
 * function with the same name as an export would be mistaken for it; the
 * child then runs the export.)
 */
function searchAsyncMain(main: string, value: unknown): ExportRef | undefined {
  if (typeof value !== "function" || value.name === "") return undefined;
  try {
    require(main);
    return undefined; // Its namespace was searched: the value is not exported.
  } catch {
    // Still evaluating with top-level await: fall back to its source.
  }
  let names = mainExports.get(main);
  if (names === undefined) {
    try {
      // node:fs only here: importing it costs each child realm milliseconds.
      const { readFileSync } = require("node:fs") as typeof import("node:fs");
      const source = readFileSync(main, "utf8");
      const loader = main.endsWith(".tsx") ? "tsx" : main.endsWith(".jsx") ? "jsx" : main.endsWith(".js") ? "js" : "ts";
      names = new Set(new Bun.Transpiler({ loader }).scan(source).exports);
    } catch {
      names = new Set();
    }
    mainExports.set(main, names);
  }
  return names.has(value.name) ? { module: main, name: value.name } : undefined;
}

/**
 * Finds a module that exports `value`: first every module in `require.cache`
 * (they are cheaper for a child to import than the main module), then the main
 * module, whose namespace `require(Bun.main)` gives even while it is still
 * evaluating. Mirrors pickle's `whichmodule`.
 *
 * @param value A function or class.
 * @returns Its module path and export name, or `undefined` when no loaded module exports it.
 * @example
 * ```ts
 * export function work(n: number) { return n * 2; }
 * findExport(work); // { module: "/app/main.ts", name: "work" }
 * ```
 */
export function findExport(value: Exportable): ExportRef | undefined {
  const hit = found.get(value);
  if (hit !== undefined) return hit;
  const main = Bun.main;
  const modules = Object.keys(require.cache);
  let ref: ExportRef | undefined;
  if (!(misses.has(value) && missesModuleCount === modules.length)) {
    for (const module of modules) {
      if (module === main) continue;
      ref = search(module, value);
      if (ref !== undefined) break;
    }
  }
  // The main module is searched every time: its bindings leave the TDZ as it runs.
  ref ??= search(main, value) ?? searchAsyncMain(main, value);
  if (ref !== undefined) {
    found.set(value, ref);
    return ref;
  }
  if (missesModuleCount !== modules.length) {
    misses = new WeakSet();
    missesModuleCount = modules.length;
  }
  misses.add(value);
  return undefined;
}

/**
 * Imports `ref.module` (synchronously, with `require`) and returns its export
 * `ref.name`. Mirrors pickle's `Unpickler.find_class`.
 *
 * @param ref What `findExport` returned in the sending process.
 * @returns The exported value.
 * @throws {PicklingError} When the module cannot be imported or has no such export.
 * @example
 * ```ts
 * const work = resolveExport({ module: "/app/main.ts", name: "work" }) as (n: number) => number;
 * ```
 */
export function resolveExport(ref: ExportRef): unknown {
  const key = `${ref.module}\u0000${ref.name}`;
  if (resolved.has(key)) return resolved.get(key);
  const where = `${ref.module}#${ref.name}`;
  let ns: Record<string, unknown>;
  try {
    ns = require(ref.module) as Record<string, unknown>;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PicklingError(`Cannot load "${ref.name}": importing ${ref.module} failed: ${why}`, where, {
      cause,
    });
  }
  let value: unknown;
  try {
    value = ns[ref.name];
  } catch (cause) {
    throw new PicklingError(
      `Cannot load "${ref.name}": ${ref.module} has not initialised it yet (circular import?)`,
      where,
      { cause },
    );
  }
  if (value === undefined && !(ref.name in ns)) {
    throw new PicklingError(
      `Cannot load "${ref.name}": ${ref.module} has no export named "${ref.name}"; the sender and receiver must run the same code`,
      where,
    );
  }
  resolved.set(key, value);
  return value;
}

/**
 * `resolveExport` after an `import()` of the module: import() evaluates a
 * module that uses top-level await, which resolveExport's synchronous
 * `require` cannot. For children that re-import the program.
 */
export async function importExport(ref: ExportRef): Promise<unknown> {
  await import(ref.module);
  return resolveExport(ref);
}

/**
 * Lets payloads received in this process (or Worker thread) name exports of
 * `modules` even before anything here imported them: `recv()`, `get()` and
 * task results then import such a module to rebuild a function, a class or an
 * instance of a class. Without it a payload may only name a module this realm
 * has already loaded (which runs no code) or the ones its own bootstrap
 * imports, so a message can never make its receiver run a module of its
 * choosing. Mirrors overriding pickle's `Unpickler.find_class`.
 *
 * @param modules Absolute module paths (`import.meta.path`) or `file:` URLs (`import.meta.url`).
 * @throws {TypeError} When a path is neither absolute nor a `file:` URL.
 * @example
 * ```ts
 * import { allowImports } from "@multiproc/core";
 * // Handlers arrive from the parent; their module loads at the first one.
 * allowImports(Bun.resolveSync("./handlers.ts", import.meta.dir));
 * const handler = await conn.recv();
 * ```
 */
export function allowImports(...modules: string[]): void {
  const paths = modules.map((m) => {
    if (typeof m === "string" && m.startsWith("file:")) return Bun.fileURLToPath(m);
    if (typeof m === "string" && m.startsWith("/")) return m;
    throw new TypeError(`allowImports() takes absolute module paths or file: URLs, got ${JSON.stringify(m)}`);
  });
  for (const path of paths) allowed.add(path);
}

/**
 * Whether a payload may name an export of `module` when its decode was not
 * granted imports: the module was allowed, or it is already evaluated here, so
 * resolving the export runs no code. `require.cache` lists a module once its
 * evaluation has finished (measured in Bun 1.4.5, for ES modules too); the main
 * module, still evaluating under a top-level await, is in it only afterwards.
 */
export function mayImport(module: string): boolean {
  return allowed.has(module) || module === Bun.main || require.cache[module] !== undefined;
}
