/**
 * `loads`: bytes back to a value (mirrors `pickle.loads`). JSON and plain
 * structured-clone payloads are returned as decoded; a payload rooted at a
 * `#root` marker is walked once to revive its markers in place (see `_wire.ts`).
 * Every marker's state is shape-checked before use: the bytes come from
 * another program, and a malformed payload is a `PicklingError` naming where.
 */

import { deserialize } from "bun:jsc";
import { MultiprocError, PicklingError } from "../errors.ts";
import { mayImport, resolveExport } from "./exports.ts";
import { defineField, setOwn } from "./_props.ts";
import {
  Refusal,
  indexSegment,
  keySegment,
  mapKeySegment,
  mapValueSegment,
  reducedSegment,
  setSegment,
  toPicklingError,
  within,
} from "./_path.ts";
import type { ErrorState } from "./rebuild-error.ts";
import { reducerByTag } from "./reducers.ts";
import {
  JSON_ENABLED,
  JSON_FIRST_BYTE,
  MARK,
  type Marker,
  TAG_ERROR,
  TAG_ESCAPE,
  TAG_FUNCTION,
  TAG_INSTANCE,
  TAG_ROOT,
  isMarker,
} from "./_wire.ts";

const decoder = new TextDecoder();
const ROOT_PATH = "value";
/** Memo entry of a reduced object whose state is still being revived. */
const PENDING = Symbol("pending");

/** Options of `loads`. */
export interface LoadsOptions {
  /**
   * Whether the payload may make this realm import the modules of the
   * functions and classes it names. Only for decodes meant to load code (a
   * child's own bootstrap, a Pool worker's tasks). Default false: only
   * modules already loaded here, or allowed with `allowImports`.
   */
  imports?: boolean;
}

/** One revive walk: revived objects by their decoded originals, and whether it may import. */
interface Walk {
  readonly memo: Map<object, unknown>;
  readonly imports: boolean;
  /** Bytes in the payload: no array holds more items than that. */
  readonly size: number;
}

/** Depth of `withImports` calls on the stack. */
let importsGranted = 0;

function fail(message: string, cause?: unknown): PicklingError {
  return new PicklingError(`Cannot load value: ${message}`, ROOT_PATH, cause === undefined ? undefined : { cause });
}

/**
 * Decodes bytes made by `dumps` (in this process or another one running the
 * same code). Library objects are rebuilt by their reducers. Functions and
 * classes are taken from their modules when those are already loaded here or
 * allowed (`allowImports`), or when `opts.imports` lets the payload import
 * them. Mirrors Python's `pickle.loads`.
 *
 * @param bytes A payload from `dumps`.
 * @param opts `imports`: let the payload import the modules it names.
 * @returns The value.
 * @throws {PicklingError} When the bytes are not a well-formed payload, a
 * module is not allowed, a module or export is missing, or no reducer is
 * registered for a tag; `path` says where in the value (`value.handler`).
 * @example
 * ```ts
 * const value = loads(dumps({ when: new Date(), ids: new Set([1, 2]) }));
 * ```
 */
export function loads(bytes: Uint8Array, opts?: LoadsOptions): unknown {
  if (bytes.length === 0) throw fail("the payload is empty");
  let value: unknown;
  try {
    const json = JSON_ENABLED && bytes[0]! >= JSON_FIRST_BYTE;
    value = json ? JSON.parse(decoder.decode(bytes)) : deserialize(bytes);
  } catch (cause) {
    throw fail("the payload is not valid", cause);
  }
  if (typeof value !== "object" || value === null || (value as Partial<Marker>)[MARK] !== TAG_ROOT) return value;
  const walk: Walk = { memo: new Map(), imports: opts?.imports === true || importsGranted > 0, size: bytes.length };
  try {
    return revive((value as Marker).s, walk);
  } catch (err) {
    if (err instanceof RangeError && err.message.includes("call stack")) {
      throw fail("the payload nests too deeply", err);
    }
    throw toPicklingError(err, ROOT_PATH, "load");
  }
}

/**
 * Runs `decode` (a synchronous receive, e.g. a Pool worker's `tasks.getSync()`)
 * with imports granted to every `loads` it makes, as `loads(bytes, { imports: true })`
 * does. For channels that carry the receiver's own code.
 */
export function withImports<T>(decode: () => T): T {
  importsGranted++;
  try {
    return decode();
  } finally {
    importsGranted--;
  }
}

function revive(v: unknown, walk: Walk): unknown {
  if (typeof v !== "object" || v === null) return v;
  const hit = walk.memo.get(v);
  if (hit === PENDING) throw new Refusal("a reduced object's state refers to the object itself");
  if (hit !== undefined) return hit;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype) {
    if (isMarker(v)) return reviveMarker(v, walk);
    walk.memo.set(v, v);
    reviveFields(v as Record<string, unknown>, walk);
  } else if (proto === Array.prototype) {
    walk.memo.set(v, v);
    const a = v as unknown[];
    let i = 0;
    try {
      if (a.length <= walk.size) {
        for (; i < a.length; i++) {
          const x = a[i];
          if (typeof x === "object" && x !== null) a[i] = revive(x, walk);
        }
      } else {
        // Longer than the payload has bytes: sparse (e.g. a length of 2^32 - 1), walk the items it holds.
        for (const key of Object.keys(a)) {
          i = Number(key);
          const x = a[i];
          if (typeof x === "object" && x !== null) a[i] = revive(x, walk);
        }
      }
    } catch (err) {
      throw within(err, indexSegment(i));
    }
  } else if (proto === Map.prototype) {
    walk.memo.set(v, v);
    reviveMap(v as Map<unknown, unknown>, walk);
  } else if (proto === Set.prototype) {
    walk.memo.set(v, v);
    reviveSet(v as Set<unknown>, walk);
  }
  return v; // Date, typed arrays...: nothing inside to revive
}

function reviveFields(o: Record<string, unknown>, walk: Walk): void {
  let key = "";
  try {
    for (key in o) {
      const x = o[key];
      if (typeof x !== "object" || x === null) continue;
      const r = revive(x, walk);
      if (r !== x) setOwn(o, key, r);
    }
  } catch (err) {
    throw within(err, keySegment(key));
  }
}

function reviveNamed(v: unknown, segment: string, walk: Walk): unknown {
  try {
    return revive(v, walk);
  } catch (err) {
    throw within(err, segment);
  }
}

function reviveMap(m: Map<unknown, unknown>, walk: Walk): void {
  const entries = [...m];
  let keysChanged = false;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const [k, x] = entry;
    entry[0] = reviveNamed(k, mapKeySegment(i), walk);
    entry[1] = reviveNamed(x, mapValueSegment(k, i), walk);
    keysChanged ||= entry[0] !== k;
  }
  // Re-adding every entry keeps the order when a key was replaced.
  if (keysChanged) m.clear();
  for (const [k, x] of entries) m.set(k, x);
}

function reviveSet(s: Set<unknown>, walk: Walk): void {
  const members = [...s].map((x, i) => reviveNamed(x, setSegment(i), walk));
  s.clear();
  for (const x of members) s.add(x);
}

function reviveMarker(m: Marker, walk: Walk): unknown {
  const tag = m[MARK];
  switch (tag) {
    case TAG_ESCAPE: {
      const o = m.s;
      if (typeof o !== "object" || o === null || Array.isArray(o)) {
        throw new Refusal(`an escaped object's state must be an object, got ${describe(o)}`);
      }
      walk.memo.set(m, o);
      reviveFields(o as Record<string, unknown>, walk);
      return o;
    }
    case TAG_FUNCTION: {
      const s = m.s;
      if (!Array.isArray(s) || s.length !== 2 || typeof s[0] !== "string" || typeof s[1] !== "string") {
        throw new Refusal(`a function reference must be [module, name], two strings, got ${describe(s)}`);
      }
      const fn = exportOf(s[0], s[1], walk, "function");
      if (typeof fn !== "function") throw new Refusal(`${s[0]}#${s[1]} is not a function or class in this process`);
      walk.memo.set(m, fn);
      return fn;
    }
    case TAG_INSTANCE:
      return reviveInstance(m, walk);
    case TAG_ERROR: {
      const state = m.s;
      const problem = errorStateProblem(state);
      if (problem !== undefined) throw new Refusal(`an error's state ${problem}`);
      return reviveError(m, state as ErrorState, walk);
    }
  }
  const reducer = reducerByTag(tag);
  if (reducer === undefined) {
    throw new Refusal(`no reducer is registered for tag ${JSON.stringify(tag)}; import the module that registers it`);
  }
  walk.memo.set(m, PENDING);
  const state = reviveNamed(m.s, reducedSegment(tag), walk);
  let obj: unknown;
  try {
    obj = reducer.rebuild(state);
  } catch (cause) {
    // The library's own errors (a descriptor that did not arrive...) keep their class.
    if (cause instanceof MultiprocError) throw cause;
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new Refusal(`the reducer ${JSON.stringify(tag)} could not rebuild its object: ${why}`, cause);
  }
  walk.memo.set(m, obj);
  return obj;
}

/**
 * The export `name` of `module`, when this walk may have it: a module is
 * imported only when the decode was granted imports, or when it is loaded or
 * allowed already (then resolving it runs no code).
 */
function exportOf(module: string, name: string, walk: Walk, what: string): unknown {
  if (!walk.imports && !mayImport(module)) {
    throw new Refusal(
      `the payload names ${what} "${name}" of ${module}, a module this process has not loaded; ` +
        `import it in the receiver first, or call allowImports(${JSON.stringify(module)})`,
    );
  }
  return resolveExport({ module, name });
}

function reviveInstance(m: Marker, walk: Walk): unknown {
  const s = m.s;
  if (!Array.isArray(s) || s.length < 3 || s.length > 4 || typeof s[0] !== "string" || typeof s[1] !== "string") {
    throw new Refusal(`an instance's state must be [module, name, fields, base], got ${describe(s)}`);
  }
  const [module, name, fields, base] = s as [string, string, unknown, unknown];
  const where = `${module}#${name}`;
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new Refusal(`the fields of an instance of ${where} must be an object, got ${describe(fields)}`);
  }
  const errorBase = base !== undefined && base !== null && errorStateProblem(base) === undefined;
  if (!errorBase && base !== undefined && base !== null) {
    // What `_copy.ts` writes: a Map, Set, array or other built-in, never a plain object.
    const proto = typeof base === "object" ? Object.getPrototypeOf(base) : null;
    if (proto === null || proto === Object.prototype) {
      throw new Refusal(
        `the base of an instance of ${where} must be null, an error's state or a built-in object, got ${describe(base)}`,
      );
    }
  }
  // An error of a class this process may not import still arrives, rebuilt by name.
  if (errorBase && !walk.imports && !mayImport(module)) return reviveError(m, base as ErrorState, walk);
  const cls = exportOf(module, name, walk, "class");
  if (typeof cls !== "function" || typeof cls.prototype !== "object" || cls.prototype === null) {
    throw new Refusal(`${where} is not a class in this process`);
  }
  let obj: object;
  if (base === undefined || base === null) obj = Object.create(cls.prototype);
  else if (errorBase) obj = rebuildError(base as ErrorState);
  else obj = base as object; // a Map, Set, array or other built-in: keeps its internal slots
  walk.memo.set(m, obj);
  // Contents are revived once the instance is known, so a cycle through it ends here;
  // a built-in base is walked before it gets the class's prototype (revive dispatches on it).
  if (errorBase) reviveErrorState(obj as Error, base as ErrorState, walk);
  else if (base !== undefined && base !== null) revive(obj, walk);
  Object.setPrototypeOf(obj, cls.prototype);
  const record = fields as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    defineField(obj, key, reviveNamed(record[key], keySegment(key), walk));
  }
  return obj;
}

function reviveError(m: Marker, state: ErrorState, walk: Walk): Error {
  const err = rebuildError(state);
  walk.memo.set(m, err);
  reviveErrorState(err, state, walk);
  return err;
}

/** rebuild-error.ts, loaded with the first error met: each module costs a child's start, and most payloads hold none. */
function rebuildError(state: ErrorState): Error {
  const m = require("./rebuild-error.ts") as typeof import("./rebuild-error.ts");
  return m.rebuildError(state);
}

/** What is wrong with `s` as an `ErrorState`, or undefined when it is one. */
function errorStateProblem(s: unknown): string | undefined {
  if (typeof s !== "object" || s === null || Object.getPrototypeOf(s) !== Object.prototype) {
    return `must be an object, got ${describe(s)}`;
  }
  const e = s as Partial<Record<keyof ErrorState, unknown>>;
  if (typeof e.name !== "string") return `needs a string name, got ${describe(e.name)}`;
  if (typeof e.message !== "string") return `needs a string message, got ${describe(e.message)}`;
  if (e.stack !== undefined && typeof e.stack !== "string")
    return `has a stack that is not a string: ${describe(e.stack)}`;
  if (typeof e.fields !== "object" || e.fields === null || Array.isArray(e.fields)) {
    return `needs an object of fields, got ${describe(e.fields)}`;
  }
  return undefined;
}

function reviveErrorState(err: Error, state: ErrorState, walk: Walk): void {
  for (const key of Object.keys(state.fields)) {
    defineField(err, key, reviveNamed(state.fields[key], keySegment(key), walk));
  }
  const hidden = { writable: true, enumerable: false, configurable: true };
  if ("cause" in state)
    Object.defineProperty(err, "cause", { ...hidden, value: reviveNamed(state.cause, ".cause", walk) });
  if ("errors" in state) {
    Object.defineProperty(err, "errors", { ...hidden, value: reviveNamed(state.errors, ".errors", walk) });
  }
}

/** A short description of a malformed state, for messages. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  switch (typeof v) {
    case "object":
      return "an object";
    case "string":
      return v.length > 40 ? `a string of length ${v.length}` : JSON.stringify(v);
    case "bigint":
      return `${v}n`;
    default:
      return String(v);
  }
}
