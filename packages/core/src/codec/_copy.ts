/**
 * The second walk of `dumps`, run only when the scan found something to
 * replace: builds a copy in which library objects, functions, class instances
 * and errors are markers (see `_wire.ts`). A Map from original to copy keeps
 * cycles and shared references; each marker is registered before its state is
 * walked, so a cycle through it ends at the marker.
 */

import { LocalOnly } from "./remote.ts";
import { type Exportable, findExport } from "./exports.ts";
import {
  ARRAY,
  ERROR,
  INSTANCE,
  MAP,
  NO_BASE,
  REDUCE,
  REFUSE,
  SET,
  LEAF,
  functionRefusal,
  kindOf,
  symbolRefusal,
} from "./_kinds.ts";
import { fieldNames, setOwn } from "./_props.ts";
import {
  Refusal,
  indexSegment,
  keySegment,
  mapKeySegment,
  mapValueSegment,
  reducedSegment,
  setSegment,
  within,
} from "./_path.ts";
import { errorState } from "./rebuild-error.ts";
import { MARK, TAG_ERROR, TAG_ESCAPE, TAG_FUNCTION, TAG_INSTANCE, TAG_ROOT, type Marker, marker } from "./_wire.ts";

type Memo = Map<object, unknown>;

/** Returns the root marker `{ [MARK]: "#root", s: copy of value }`. Throws a Refusal. */
export function copyRoot(value: unknown): Marker {
  return marker(TAG_ROOT, copyValue(value, new Map()));
}

function copyValue(v: unknown, memo: Memo): unknown {
  switch (typeof v) {
    case "object":
      return v === null ? v : copyObject(v, memo);
    case "function":
      return copyFunction(v as Exportable, memo);
    case "symbol": // reachable only inside a reducer's state: the scan refused the rest
      throw new Refusal(symbolRefusal(v));
    default:
      return v;
  }
}

function copyFunction(fn: Exportable, memo: Memo): unknown {
  const hit = memo.get(fn);
  if (hit !== undefined) return hit;
  const ref = findExport(fn);
  if (ref === undefined) throw new Refusal(functionRefusal(fn));
  const m = marker(TAG_FUNCTION, [ref.module, ref.name]);
  memo.set(fn, m);
  return m;
}

function copyObject(o: object, memo: Memo): unknown {
  const hit = memo.get(o);
  if (hit !== undefined) return hit;
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    // A user object holding the marker key is wrapped, so loads does not take it for a marker.
    memo.set(o, MARK in o ? marker(TAG_ESCAPE, out) : out);
    copyFields(o, Object.keys(o), out, memo);
    return memo.get(o);
  }
  const kind = proto === Array.prototype ? { kind: ARRAY } : kindOf(proto);
  switch (kind.kind) {
    case REFUSE:
      throw new Refusal(kind.reason ?? "cannot be sent to another process");
    case REDUCE: {
      const reducer = kind.reducer!;
      const m = marker(reducer.tag);
      memo.set(o, m);
      let state: unknown;
      try {
        state = reducer.reduce(o);
      } catch (cause) {
        if (cause instanceof LocalOnly) throw new Refusal(`a ${reducer.tag} ${cause.message}`);
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new Refusal(`the reducer "${reducer.tag}" failed: ${why}`, cause);
      }
      try {
        m.s = copyValue(state, memo);
      } catch (err) {
        throw within(err, reducedSegment(reducer.tag));
      }
      return m;
    }
    case INSTANCE: {
      const ref = kind.ref!;
      const base = kind.base ?? NO_BASE;
      const fields: Record<string, unknown> = {};
      const m = marker(TAG_INSTANCE, [ref.module, ref.name, fields, undefined]);
      memo.set(o, m);
      const names = base === ERROR ? [] : fieldNames(o, base === ARRAY || base === LEAF);
      copyFields(o, names, fields, memo);
      (m.s as unknown[])[3] = base === NO_BASE ? undefined : copyContents(o, base, undefined, memo);
      return m;
    }
    case ERROR: {
      const m = marker(TAG_ERROR);
      memo.set(o, m);
      m.s = copyContents(o, ERROR, undefined, memo);
      return m;
    }
  }
  return copyContents(o, kind.kind, o, memo);
}

/** Copies what a built-in holds; `key` is the object the copy stands for in the memo, if any. */
function copyContents(o: object, kind: number, key: object | undefined, memo: Memo): unknown {
  switch (kind) {
    case ARRAY: {
      const a = o as unknown[];
      const out: unknown[] = new Array(a.length);
      if (key !== undefined) memo.set(key, out);
      let i = 0;
      try {
        for (; i < a.length; i++) if (i in a) out[i] = copyValue(a[i], memo);
      } catch (err) {
        throw within(err, indexSegment(i));
      }
      return out;
    }
    case MAP: {
      const out = new Map<unknown, unknown>();
      if (key !== undefined) memo.set(key, out);
      let i = 0;
      for (const [k, v] of o as Map<unknown, unknown>) {
        let ck: unknown;
        try {
          ck = copyValue(k, memo);
        } catch (err) {
          throw within(err, mapKeySegment(i));
        }
        try {
          out.set(ck, copyValue(v, memo));
        } catch (err) {
          throw within(err, mapValueSegment(k, i));
        }
        i++;
      }
      return out;
    }
    case SET: {
      const out = new Set<unknown>();
      if (key !== undefined) memo.set(key, out);
      let i = 0;
      try {
        for (const v of o as Set<unknown>) {
          out.add(copyValue(v, memo));
          i++;
        }
      } catch (err) {
        throw within(err, setSegment(i));
      }
      return out;
    }
    case ERROR: {
      const state = errorState(o as Error);
      const fields: Record<string, unknown> = {};
      copyFields(state.fields, Object.keys(state.fields), fields, memo);
      state.fields = fields;
      if ("cause" in state) state.cause = copyNamed(state.cause, ".cause", memo);
      if ("errors" in state) state.errors = copyNamed(state.errors, ".errors", memo);
      return state;
    }
    default: // LEAF: structured clone copies it (keeping shared references)
      if (key !== undefined) memo.set(key, o);
      return o;
  }
}

function copyFields(src: object, keys: string[], out: object, memo: Memo): void {
  let key = "";
  try {
    for (key of keys) setOwn(out, key, copyValue((src as Record<string, unknown>)[key], memo));
  } catch (err) {
    throw within(err, keySegment(key));
  }
}

function copyNamed(v: unknown, segment: string, memo: Memo): unknown {
  try {
    return copyValue(v, memo);
  } catch (err) {
    throw within(err, segment);
  }
}
