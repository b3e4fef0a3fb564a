/**
 * Sorting values into what the codec does with them: pass to structured clone,
 * walk, reduce, send by reference, or refuse (with the reason shown to the user).
 */

import { describeFunction, type ExportRef, type Exportable, findExport } from "./exports.ts";
import { type Reducer, reducerFor, registryVersion } from "./reducers.ts";

/** Carried by structured clone as is, nothing inside to check (Date, typed arrays...). */
export const LEAF = 0;
/** A Map: its keys and values are walked. */
export const MAP = 1;
/** A Set: its members are walked. */
export const SET = 2;
/** An array: its items are walked. */
export const ARRAY = 3;
/** An Error (or an Error subclass that is not exported): rebuilt by name. */
export const ERROR = 4;
/** An object of a class with a registered reducer. */
export const REDUCE = 5;
/** An instance of an exported class. */
export const INSTANCE = 6;
/** Cannot be sent; `reason` says why. */
export const REFUSE = 7;
/** Base kind of an instance whose class extends no built-in. */
export const NO_BASE = -1;

/** What to do with every object of one prototype. */
export interface Kind {
  readonly kind: number;
  readonly reducer?: Reducer<object>;
  /** INSTANCE: the class's export. */
  readonly ref?: ExportRef;
  /** INSTANCE: the kind of the built-in the class extends, or NO_BASE. */
  readonly base?: number;
  /** REFUSE: why, for the message. */
  readonly reason?: string;
}

const typedArrays = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float16Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
const errorTypes = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];

// Exact prototypes of the types structured clone carries (subclasses are not in here).
const builtins = new Map<object, number>([
  [Map.prototype, MAP],
  [Set.prototype, SET],
  [Array.prototype, ARRAY],
  ...[Date, RegExp, ArrayBuffer, SharedArrayBuffer, DataView, Boolean, Number, String, Buffer].map(
    (c): [object, number] => [c.prototype, LEAF],
  ),
  ...typedArrays.map((c): [object, number] => [c.prototype, LEAF]),
  ...errorTypes.map((c): [object, number] => [c.prototype, ERROR]),
]);

const hints: Record<string, string> = {
  Promise: "await it and send the result",
  WeakMap: "send a Map instead",
  WeakSet: "send a Set instead",
  WeakRef: "send the value it refers to instead",
  Blob: "send its bytes (await blob.bytes()) instead",
  File: "send its bytes (await file.bytes()) instead",
  Response: "send its body instead",
  Request: "send its URL and body instead",
};

const cache = new Map<object, Kind>();
let cacheVersion = registryVersion();

function isNative(fn: unknown): boolean {
  return typeof fn === "function" && Function.prototype.toString.call(fn).includes("[native code]");
}

function refuseInstance(ctor: unknown): Kind {
  const name = typeof ctor === "function" ? ctor.name : "";
  let reason: string;
  if (name === "") reason = "an object with a custom prototype and no class; send a plain object";
  else if (isNative(ctor)) {
    const hint = Object.hasOwn(hints, name) ? hints[name] : "send plain data instead";
    reason = `a ${name} cannot be sent to another process; ${hint}`;
  } else {
    reason = `instance of class "${name}" whose class is not exported from any module; export the class, or send a plain object`;
  }
  return { kind: REFUSE, reason };
}

function classify(proto: object): Kind {
  const reducer = reducerFor(proto);
  if (reducer !== undefined) return { kind: REDUCE, reducer };
  const builtin = builtins.get(proto);
  if (builtin !== undefined) return { kind: builtin };
  let base = NO_BASE;
  for (let p = Object.getPrototypeOf(proto); p !== null && base === NO_BASE; p = Object.getPrototypeOf(p)) {
    base = builtins.get(p) ?? NO_BASE;
  }
  const ctor: unknown = (proto as { constructor?: unknown }).constructor;
  const ref = typeof ctor === "function" && ctor.prototype === proto ? findExport(ctor as Exportable) : undefined;
  if (ref !== undefined) return { kind: INSTANCE, ref, base };
  // An error keeps travelling when its class is unknown: rebuilt by name, as a child's errors must reach the parent.
  if (base === ERROR) return { kind: ERROR };
  return refuseInstance(ctor);
}

/** What to do with objects of prototype `proto` (neither `Object.prototype` nor `null`). */
export function kindOf(proto: object): Kind {
  if (cacheVersion !== registryVersion()) {
    cache.clear();
    cacheVersion = registryVersion();
  }
  const hit = cache.get(proto);
  if (hit !== undefined) return hit;
  const kind = classify(proto);
  // Refusals and by-name errors are not cached: the class may be exported by a module loaded later.
  if (kind.kind !== REFUSE && !(kind.kind === ERROR && !builtins.has(proto))) cache.set(proto, kind);
  return kind;
}

/** Why a function cannot travel by reference. */
export function functionRefusal(fn: Exportable): string {
  const label = describeFunction(fn);
  if (label.startsWith("<")) return `${label} cannot be found by the receiver; give it a name and export it`;
  return `${label} is not exported from any module; export it from its module`;
}

/** Why a symbol cannot travel. */
export function symbolRefusal(sym: symbol): string {
  return `a symbol (${sym.toString()}) cannot be sent to another process; send a string instead`;
}
