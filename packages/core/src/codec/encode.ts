/**
 * `dumps`: a value to bytes for another process or thread (mirrors `pickle.dumps`).
 * One scan checks the whole value; only a value holding library objects,
 * functions, class instances or errors is copied with markers (see `_wire.ts`).
 */

import { serialize } from "bun:jsc";
import { PicklingError } from "../errors.ts";
import { copyRoot } from "./_copy.ts";
import { toPicklingError } from "./_path.ts";
import { NEEDS_COPY, NOT_JSON, scan } from "./_scan.ts";
import { JSON_ENABLED } from "./_wire.ts";

/** Options of `dumps`. */
export interface DumpsOptions {
  /** Name of the value in error messages, e.g. `"args"` gives paths like `args[1].handler`. Default `"value"`. */
  path?: string;
}

const encoder = new TextEncoder();

/**
 * Encodes a value for another process or Worker thread. Carries what structured
 * clone carries (cycles and shared references included) plus Errors with their
 * class, library objects through their reducers, and exported functions, classes
 * and class instances by reference. Mirrors Python's `pickle.dumps`.
 *
 * @param value The value to send.
 * @param opts `path`: the value's name in error messages.
 * @returns The payload, for `loads`.
 * @throws {PicklingError} When something in the value cannot be sent; its `path`
 * says where (`args[1].handler`) and nothing has been encoded or reduced.
 * @example
 * ```ts
 * const bytes = dumps([task, { retries: 3 }], { path: "args" });
 * ```
 */
export function dumps(value: unknown, opts?: DumpsOptions): Uint8Array {
  const root = opts?.path ?? "value";
  let flags: number;
  try {
    flags = scan(value);
  } catch (err) {
    throw toPicklingError(err, root);
  }
  let wire = value;
  if (flags & NEEDS_COPY) {
    try {
      wire = copyRoot(value);
    } catch (err) {
      throw toPicklingError(err, root);
    }
  }
  if (JSON_ENABLED && !(flags & NOT_JSON)) return encoder.encode(JSON.stringify(wire));
  let bytes: Uint8Array;
  try {
    bytes = serialize(wire, { binaryType: "nodebuffer" });
  } catch (cause) {
    // Only what the scan does not look at gets here (e.g. a function stored on an array's extra property).
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PicklingError(`Cannot send ${root}: ${why}`, root, { cause });
  }
  // A plain Uint8Array over the same memory: Buffer's slice() would not copy.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
