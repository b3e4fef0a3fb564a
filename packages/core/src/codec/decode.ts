/**
 * `loads`: bytes back to a value (mirrors `pickle.loads`). JSON and plain
 * structured-clone payloads are returned as decoded; a payload rooted at a
 * `#root` marker is walked once to revive its markers in place (see `_wire.ts`).
 */

import { deserialize } from "bun:jsc";
import { PicklingError } from "../errors.ts";
import { resolveExport } from "./exports.ts";
import { defineField, setOwn } from "./_props.ts";
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

type Memo = Map<object, unknown>;

function fail(message: string, cause?: unknown): PicklingError {
  return new PicklingError(`Cannot load value: ${message}`, ROOT_PATH, cause === undefined ? undefined : { cause });
}

/**
 * Decodes bytes made by `dumps` (in this process or another one running the
 * same code). Functions and classes are imported again from their modules;
 * library objects are rebuilt by their reducers. Mirrors Python's `pickle.loads`.
 *
 * @param bytes A payload from `dumps`.
 * @returns The value.
 * @throws {PicklingError} When the bytes are not a payload, a module or export is
 * missing, or no reducer is registered for a tag.
 * @example
 * ```ts
 * const value = loads(dumps({ when: new Date(), ids: new Set([1, 2]) }));
 * ```
 */
export function loads(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw fail("the payload is empty");
  let value: unknown;
  try {
    const json = JSON_ENABLED && bytes[0]! >= JSON_FIRST_BYTE;
    value = json ? JSON.parse(decoder.decode(bytes)) : deserialize(bytes);
  } catch (cause) {
    throw fail("the payload is not valid", cause);
  }
  if (typeof value === "object" && value !== null && (value as Partial<Marker>)[MARK] === TAG_ROOT) {
    return revive((value as Marker).s, new Map());
  }
  return value;
}

function revive(v: unknown, memo: Memo): unknown {
  if (typeof v !== "object" || v === null) return v;
  const hit = memo.get(v);
  if (hit === PENDING) throw fail("a reduced object's state refers to the object itself");
  if (hit !== undefined) return hit;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype) {
    if (isMarker(v)) return reviveMarker(v, memo);
    memo.set(v, v);
    reviveFields(v as Record<string, unknown>, memo);
  } else if (proto === Array.prototype) {
    memo.set(v, v);
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x === "object" && x !== null) a[i] = revive(x, memo);
    }
  } else if (proto === Map.prototype) {
    memo.set(v, v);
    reviveMap(v as Map<unknown, unknown>, memo);
  } else if (proto === Set.prototype) {
    memo.set(v, v);
    reviveSet(v as Set<unknown>, memo);
  }
  return v; // Date, typed arrays...: nothing inside to revive
}

function reviveFields(o: Record<string, unknown>, memo: Memo): void {
  for (const key in o) {
    const x = o[key];
    if (typeof x !== "object" || x === null) continue;
    const r = revive(x, memo);
    if (r !== x) setOwn(o, key, r);
  }
}

function reviveMap(m: Map<unknown, unknown>, memo: Memo): void {
  const entries = [...m];
  let keysChanged = false;
  for (const entry of entries) {
    const [k, x] = entry;
    entry[0] = revive(k, memo);
    entry[1] = revive(x, memo);
    keysChanged ||= entry[0] !== k;
  }
  // Re-adding every entry keeps the order when a key was replaced.
  if (keysChanged) m.clear();
  for (const [k, x] of entries) m.set(k, x);
}

function reviveSet(s: Set<unknown>, memo: Memo): void {
  const members = [...s].map((x) => revive(x, memo));
  s.clear();
  for (const x of members) s.add(x);
}

function reviveMarker(m: Marker, memo: Memo): unknown {
  const tag = m[MARK];
  switch (tag) {
    case TAG_ESCAPE: {
      const o = m.s as Record<string, unknown>;
      memo.set(m, o);
      reviveFields(o, memo);
      return o;
    }
    case TAG_FUNCTION: {
      const [module, name] = m.s as [string, string];
      const fn = resolveExport({ module, name });
      memo.set(m, fn);
      return fn;
    }
    case TAG_INSTANCE:
      return reviveInstance(m, memo);
    case TAG_ERROR: {
      const err = rebuildError(m.s as ErrorState);
      memo.set(m, err);
      reviveErrorState(err, m.s as ErrorState, memo);
      return err;
    }
  }
  const reducer = reducerByTag(tag);
  if (reducer === undefined) {
    throw fail(`no reducer is registered for tag "${tag}"; import the module that registers it`);
  }
  memo.set(m, PENDING);
  const obj = reducer.rebuild(revive(m.s, memo));
  memo.set(m, obj);
  return obj;
}

function reviveInstance(m: Marker, memo: Memo): unknown {
  const [module, name, fields, base] = m.s as [string, string, Record<string, unknown>, unknown];
  const cls = resolveExport({ module, name });
  if (typeof cls !== "function" || typeof cls.prototype !== "object") {
    throw fail(`${module}#${name} is not a class in this process`);
  }
  let obj: object;
  if (base === undefined || base === null) obj = Object.create(cls.prototype);
  else if (isErrorState(base)) obj = rebuildError(base);
  else obj = base as object; // a Map, Set, array or other built-in: keeps its internal slots
  memo.set(m, obj);
  // Contents are revived once the instance is known, so a cycle through it ends here;
  // a built-in base is walked before it gets the class's prototype (revive dispatches on it).
  if (isErrorState(base)) reviveErrorState(obj as Error, base, memo);
  else if (base !== undefined && base !== null) revive(obj, memo);
  Object.setPrototypeOf(obj, cls.prototype);
  for (const key of Object.keys(fields)) defineField(obj, key, revive(fields[key], memo));
  return obj;
}

/** rebuild-error.ts, loaded with the first error met: each module costs a child's start, and most payloads hold none. */
function rebuildError(state: ErrorState): Error {
  const m = require("./rebuild-error.ts") as typeof import("./rebuild-error.ts");
  return m.rebuildError(state);
}

function isErrorState(base: unknown): base is ErrorState {
  return typeof base === "object" && base !== null && "fields" in base && "message" in base && "name" in base;
}

function reviveErrorState(err: Error, state: ErrorState, memo: Memo): void {
  for (const key of Object.keys(state.fields)) defineField(err, key, revive(state.fields[key], memo));
  const hidden = { writable: true, enumerable: false, configurable: true };
  if ("cause" in state) Object.defineProperty(err, "cause", { ...hidden, value: revive(state.cause, memo) });
  if ("errors" in state) Object.defineProperty(err, "errors", { ...hidden, value: revive(state.errors, memo) });
}
