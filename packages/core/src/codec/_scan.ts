/**
 * The first walk of `dumps`: checks that everything in a value can be sent
 * (throwing a Refusal with its path otherwise) and learns whether the value
 * needs a transformed copy and whether JSON carries it exactly. It calls no
 * reducer, so a refused value leaves no side effect behind.
 */

import type { Exportable } from "./exports.ts";
import { findExport } from "./exports.ts";
import {
  ARRAY,
  ERROR,
  INSTANCE,
  LEAF,
  MAP,
  NO_BASE,
  REDUCE,
  REFUSE,
  SET,
  functionRefusal,
  kindOf,
  symbolRefusal,
} from "./_kinds.ts";
import { fieldNames } from "./_props.ts";
import { Refusal, indexSegment, keySegment, mapKeySegment, mapValueSegment, setSegment, within } from "./_path.ts";
import { JSON_MAX_STRING, MARK } from "./_wire.ts";

/** The value holds something to replace by a marker. */
export const NEEDS_COPY = 1;
/** JSON would not give the value back exactly. */
export const NOT_JSON = 2;

interface ScanState {
  flags: number;
  /** Objects met so far: a short array first (cheaper than a Set for small messages)... */
  readonly few: object[];
  /** ...then a Set once there are more than SEEN_ARRAY_MAX. */
  many: Set<object> | undefined;
}

const SEEN_ARRAY_MAX = 8;

/** Scans `value`; returns NEEDS_COPY | NOT_JSON flags. Throws a Refusal. */
export function scan(value: unknown): number {
  const st: ScanState = { flags: 0, few: [], many: undefined };
  scanValue(value, st);
  return st.flags;
}

/** Records `o` as met; true when it was met before (a shared reference or a cycle). */
function metBefore(o: object, st: ScanState): boolean {
  if (st.many !== undefined) {
    if (st.many.has(o)) return true;
    st.many.add(o);
    return false;
  }
  if (st.few.includes(o)) return true;
  st.few.push(o);
  if (st.few.length > SEEN_ARRAY_MAX) st.many = new Set(st.few);
  return false;
}

function scanValue(v: unknown, st: ScanState): void {
  switch (typeof v) {
    case "object":
      if (v !== null) scanObject(v, st);
      return;
    case "string":
      if (v.length > JSON_MAX_STRING) st.flags |= NOT_JSON;
      return;
    case "number":
      // NaN, ±Infinity and -0 do not survive JSON.
      if (v - v !== 0 || (v === 0 && 1 / v < 0)) st.flags |= NOT_JSON;
      return;
    case "boolean":
      return;
    case "function":
      if (findExport(v as Exportable) === undefined) throw new Refusal(functionRefusal(v as Exportable));
      st.flags |= NEEDS_COPY; // its marker is JSON: [module, name]
      return;
    case "symbol":
      throw new Refusal(symbolRefusal(v));
    default: // undefined, bigint
      st.flags |= NOT_JSON;
  }
}

function scanObject(o: object, st: ScanState): void {
  if (metBefore(o, st)) {
    st.flags |= NOT_JSON; // a shared reference or a cycle: JSON would copy or fail
    return;
  }
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    if (MARK in o) st.flags |= NEEDS_COPY; // escaped by the copy
    scanPlain(o as Record<string, unknown>, st);
    return;
  }
  if (proto === Array.prototype) {
    scanArray(o as unknown[], st);
    return;
  }
  const kind = kindOf(proto);
  switch (kind.kind) {
    case REFUSE:
      throw new Refusal(kind.reason ?? "cannot be sent to another process");
    case REDUCE:
      // Its state is checked when the copy calls reduce(); it may share objects with the rest, so not JSON.
      st.flags |= NEEDS_COPY | NOT_JSON;
      return;
    case INSTANCE: {
      const base = kind.base ?? NO_BASE;
      // An instance of a plain class is a JSON marker: [module, name, fields, null].
      st.flags |= base === NO_BASE ? NEEDS_COPY : NEEDS_COPY | NOT_JSON;
      if (base !== ERROR) scanFields(o, fieldNames(o, base === ARRAY || base === LEAF), st);
      scanContents(o, base, st);
      return;
    }
    case ERROR:
      st.flags |= NEEDS_COPY | NOT_JSON;
      break;
    default:
      st.flags |= NOT_JSON;
  }
  scanContents(o, kind.kind, st);
}

/** Scans what a built-in holds (an instance's base included). */
function scanContents(o: object, kind: number, st: ScanState): void {
  switch (kind) {
    case ARRAY:
      scanArray(o as unknown[], st);
      return;
    case MAP:
      scanMap(o as Map<unknown, unknown>, st);
      return;
    case SET:
      scanSet(o as Set<unknown>, st);
      return;
    case ERROR:
      scanError(o as Error, st);
  }
}

function scanPlain(o: Record<string, unknown>, st: ScanState): void {
  let key = "";
  try {
    for (key in o) scanValue(o[key], st);
  } catch (err) {
    throw within(err, keySegment(key));
  }
}

function scanArray(a: unknown[], st: ScanState): void {
  let i = 0;
  try {
    // A hole reads as undefined, which already rules JSON out.
    for (; i < a.length; i++) scanValue(a[i], st);
  } catch (err) {
    throw within(err, indexSegment(i));
  }
}

function scanMap(m: Map<unknown, unknown>, st: ScanState): void {
  let i = 0;
  for (const [k, v] of m) {
    try {
      scanValue(k, st);
    } catch (err) {
      throw within(err, mapKeySegment(i));
    }
    try {
      scanValue(v, st);
    } catch (err) {
      throw within(err, mapValueSegment(k, i));
    }
    i++;
  }
}

function scanSet(s: Set<unknown>, st: ScanState): void {
  let i = 0;
  try {
    for (const v of s) {
      scanValue(v, st);
      i++;
    }
  } catch (err) {
    throw within(err, setSegment(i));
  }
}

function scanFields(o: object, keys: string[], st: ScanState): void {
  scanPlain(Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]])), st);
}

function scanError(e: Error, st: ScanState): void {
  scanFields(e, Object.keys(e), st);
  if (Object.hasOwn(e, "cause")) scanNamed(e.cause, ".cause", st);
  if (e instanceof AggregateError) scanNamed(e.errors, ".errors", st);
}

function scanNamed(v: unknown, segment: string, st: ScanState): void {
  try {
    scanValue(v, st);
  } catch (err) {
    throw within(err, segment);
  }
}
