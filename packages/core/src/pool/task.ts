/**
 * What travels between a Pool and its workers (Python: the task and result
 * tuples of `multiprocessing.pool`), and how work is cut into chunks.
 */
import type { ExportRef } from "../codec/index.ts";

/** How a worker finds a task's function: a module export, or (fork) an index into the pool's table. */
export type FnRef = ExportRef | number;

/** What a task does with its items. */
export const Kind = {
  /** `fn(...items)`, one result. */
  APPLY: 0,
  /** `fn(item)` for each item, an array of results. */
  MAP: 1,
  /** `fn(...item)` for each item, an array of results. */
  STARMAP: 2,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** `[id, fn, kind, items]`; `null` tells the worker to exit. */
export type TaskMessage = [id: number, fn: FnRef, kind: Kind, items: unknown[]];

/** `[id, ok, value, ms]`: the result or the error the task threw, and how long it ran. */
export type ReplyMessage = [id: number, ok: boolean, value: unknown, ms: number];

/** The reply id a worker uses when its initializer threw. */
export const INITIALIZER_FAILED = -1;

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

/** Cuts `items` into arrays of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
