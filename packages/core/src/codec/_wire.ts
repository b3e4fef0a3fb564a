/**
 * The codec's wire format: the constants `dumps` writes and `loads` reads.
 *
 * A payload is one of two encodings, told apart by its first byte:
 * - **JSON text** (UTF-8), first byte >= 0x20. Used when JSON carries the value
 *   (or its copy with markers, below) exactly: no undefined, -0, NaN, bigint,
 *   shared references, built-ins, long strings... It is about three times
 *   faster than structured clone for small messages. `JSON.stringify` never
 *   starts its output with white space or a control character.
 * - **A `bun:jsc` structured-clone payload**, first byte < 0x20: the low byte of
 *   JSC's little-endian format version (14 in Bun 1.4.5). Written as `serialize`
 *   returns it, never copied behind a header: a header byte would cost a copy of
 *   the whole payload (+45% on a 1 MiB Uint8Array, measured).
 *
 * When the value holds something structured clone cannot carry (a library
 * object, a function, a class instance, an Error), `dumps` encodes a copy whose
 * root is the marker `{ [MARK]: "#root", s: copy }`, and inside it each such
 * thing is a marker `{ [MARK]: tag, s: state }`. Only then does `loads` walk the
 * result to revive markers. A user object that has the key MARK is escaped as
 * `{ [MARK]: "#o", s: object }`, so markers cannot collide with user data.
 */

import { serialize } from "bun:jsc";

/**
 * The marker key. User objects that have it are escaped, so any name is safe;
 * a printable one keeps JSON.stringify on its fast path (a NUL in a key made it 4x slower).
 */
export const MARK = "__mp";

/** Root of a payload whose markers `loads` must revive. */
export const TAG_ROOT = "#root";
/** A function or class by reference: state `[module, name]`. */
export const TAG_FUNCTION = "#f";
/**
 * An instance of an exported class: state `[module, name, fields, base]`, where
 * `base` is the built-in the class extends (a Map, an ErrorState...), else null
 * or undefined.
 */
export const TAG_INSTANCE = "#c";
/** An Error rebuilt by name: state `ErrorState`. */
export const TAG_ERROR = "#e";
/** A user object that has the key MARK: state is the object itself. */
export const TAG_ESCAPE = "#o";

/** Tags of the codec's own markers start with this; reducer tags may not. */
export const RESERVED_TAG_PREFIX = "#";

/** A replaced value inside a payload. */
export interface Marker {
  [MARK]: string;
  s: unknown;
}

/** Builds a marker; its state may be filled in later (cycles need the marker first). */
export function marker(tag: string, s?: unknown): Marker {
  return { [MARK]: tag, s };
}

/** True when `value` is a marker (deserialized plain objects only). */
export function isMarker(value: object): value is Marker {
  return typeof (value as Partial<Marker>)[MARK] === "string";
}

/** Payloads starting at or above this byte are JSON text. */
export const JSON_FIRST_BYTE = 0x20;

/**
 * JSON payloads are only told apart from structured clone while JSC's version
 * byte stays below 0x20; if a future Bun breaks that, every payload is JSC.
 */
export const JSON_ENABLED: boolean = (serialize(0, { binaryType: "nodebuffer" })[0] ?? 0) < JSON_FIRST_BYTE;

/** Strings longer than this go through structured clone: JSON escaping is slower there. */
export const JSON_MAX_STRING = 2 * 1024;
