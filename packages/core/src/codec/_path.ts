/**
 * Where a refused value sits inside the value being sent, e.g. `args[1].handler`.
 * The path is built only on failure: each level of the walk adds its segment
 * while a `Refusal` unwinds, so the happy path pays nothing for it.
 *
 * Notation: `.name` or `["odd key"]` for properties, `[3]` for array items,
 * `.get("key")` for the value of a Map entry with a primitive key,
 * `.keys()[2]` / `.values()[2]` for the key / value of the third Map entry
 * otherwise, `.values()[2]` for the third Set member, `<reduced "tag">` for the
 * state a reducer returned.
 */

import { PicklingError } from "../errors.ts";

/** Thrown inside a walk; becomes a `PicklingError` at the root. */
export class Refusal {
  /** Segments from the refused value up to the root (reverse order). */
  readonly segments: string[] = [];
  readonly reason: string;
  readonly cause: unknown;
  constructor(reason: string, cause?: unknown) {
    this.reason = reason;
    this.cause = cause;
  }
}

/** Adds the segment of the level being unwound; other errors pass through unchanged. */
export function within(err: unknown, segment: string): unknown {
  if (err instanceof Refusal) err.segments.push(segment);
  return err;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Segment for a property key. */
export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Segment for an array index. */
export function indexSegment(index: number): string {
  return `[${index}]`;
}

/** Segment for the value of the `index`-th Map entry. */
export function mapValueSegment(key: unknown, index: number): string {
  switch (typeof key) {
    case "string":
      return `.get(${JSON.stringify(key)})`;
    case "number":
    case "boolean":
    case "undefined":
      return `.get(${String(key)})`;
    case "bigint":
      return `.get(${key}n)`;
    default:
      return key === null ? ".get(null)" : `.values()[${index}]`;
  }
}

/** Segment for the key of the `index`-th Map entry. */
export function mapKeySegment(index: number): string {
  return `.keys()[${index}]`;
}

/** Segment for the `index`-th member of a Set. */
export function setSegment(index: number): string {
  return `.values()[${index}]`;
}

/** Segment for the state returned by the reducer `tag`. */
export function reducedSegment(tag: string): string {
  return `<reduced ${JSON.stringify(tag)}>`;
}

/**
 * Turns a Refusal into the `PicklingError` the caller sees; other errors are
 * returned as they are. `verb` is "send" for `dumps`, "load" for `loads`.
 */
export function toPicklingError(err: unknown, root: string, verb = "send"): unknown {
  if (!(err instanceof Refusal)) return err;
  const path = root + err.segments.reverse().join("");
  const options = err.cause === undefined ? undefined : { cause: err.cause };
  return new PicklingError(`Cannot ${verb} ${path}: ${err.reason}`, path, options);
}
