/**
 * How a Pool's work is cut into chunks and packed (the messages that carry
 * them are in protocol/task.ts).
 */
import type { Items } from "../protocol/task.ts";

/**
 * CPython's default chunksize for `map`: about four chunks per worker.
 * 0 for no items.
 */
export function defaultChunksize(items: number, workers: number): number {
  if (items === 0) return 0;
  return Math.ceil(items / (workers * 4));
}

/** @throws RangeError unless `chunksize` is an integer >= 1 */
export function checkChunksize(chunksize: number, what: string): void {
  if (!Number.isInteger(chunksize) || chunksize < 1) {
    throw new RangeError(`${what} chunksize must be an integer >= 1, got ${String(chunksize)}`);
  }
}

/** The chunk of at most `size` items at `start`, packed when it can be. */
export function chunkOf(items: readonly unknown[], start: number, size: number): Items {
  const end = Math.min(items.length, start + size);
  return end - start >= PACK_MIN ? (packRange(items, start, end) ?? items.slice(start, end)) : items.slice(start, end);
}

/** Whether every item is a number. */
export function allNumbers(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== "number") return false;
  return true;
}

/** `items[from..to)` as a Float64Array in one pass, or undefined when one is not a number. */
function packRange(items: readonly unknown[], from: number, to: number): Float64Array | undefined {
  const packed = new Float64Array(to - from);
  for (let i = from; i < to; i++) {
    const v = items[i];
    if (typeof v !== "number") return undefined;
    packed[i - from] = v;
  }
  return packed;
}

/** Below this many items packing saves nothing. */
export const PACK_MIN = 16;

/**
 * `values` as a Float64Array when every one is a number: it travels as one
 * copy of its bytes instead of being encoded and parsed number by number
 * (JSON.parse was a third of a large `map`). A double holds every number
 * exactly, -0 and NaN included; reading `packed[i]` gives the same number.
 */
export function packNumbers(values: unknown[]): Items {
  if (values.length < PACK_MIN) return values;
  return packRange(values, 0, values.length) ?? values;
}
