/**
 * The Pool's options and the checks of what its callers pass (Python: the
 * arguments of `Pool(...)`, `apply_async`, `map`): each mistake throws at the
 * call, naming the bad option and the value received.
 */
import { ConfigError } from "../errors.ts";
import { checkTimeout } from "../timeout.ts";
import type { ResultCallbacks } from "./async-result.ts";

/** Options of `ctx.Pool(...)` (Python: `Pool(processes, initializer, initargs, maxtasksperchild)`). */
export interface PoolOptions {
  /** Number of workers; default `cpuCount()`. */
  processes?: number;
  /** Runs once in each worker before its first task. */
  initializer?: (...args: never[]) => unknown;
  initargs?: unknown[];
  /** Tasks a worker runs before it is replaced by a fresh one; default no limit. */
  maxTasksPerChild?: number;
}

/** Options of one submission (`applyAsync`, `mapAsync`). */
export interface ApplyOptions<R> extends ResultCallbacks<R> {
  /**
   * Longest a task may run, in ms, counted from when a worker starts it; then it fails with TimeoutError.
   * A negative number counts as 0.
   */
  timeout?: number;
  /** Aborting stops the task (ending its worker if it runs) and fails it with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Checks the options of `ctx.Pool(...)`.
 * @throws ConfigError naming the bad option and what is allowed
 */
export function parsePoolOptions(arg: number | PoolOptions | undefined, defaultSize: number): PoolOptions {
  const opts: PoolOptions = typeof arg === "number" ? { processes: arg } : (arg ?? {});
  if (typeof opts !== "object" || opts === null) {
    throw new ConfigError(`Pool options must be a number of processes or an object, got ${describe(arg)}`);
  }
  const known = new Set(["processes", "initializer", "initargs", "maxTasksPerChild"]);
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) {
      throw new ConfigError(`Unknown Pool option "${key}"; the options are ${[...known].join(", ")}`);
    }
  }
  const { processes, initializer, initargs, maxTasksPerChild } = opts;
  if (processes !== undefined && !(Number.isInteger(processes) && processes >= 1)) {
    throw new ConfigError(`Pool option processes must be an integer >= 1, got ${String(processes)}`);
  }
  if (initializer !== undefined && initializer !== null && typeof initializer !== "function") {
    throw new ConfigError(`Pool option initializer must be a function, got ${describe(initializer)}`);
  }
  if (initargs !== undefined && !Array.isArray(initargs)) {
    throw new ConfigError(`Pool option initargs must be an array, got ${describe(initargs)}`);
  }
  if (
    maxTasksPerChild !== undefined &&
    maxTasksPerChild !== null &&
    !(Number.isInteger(maxTasksPerChild) && maxTasksPerChild >= 1)
  ) {
    throw new ConfigError(`Pool option maxTasksPerChild must be an integer >= 1, got ${String(maxTasksPerChild)}`);
  }
  return {
    processes: processes ?? defaultSize,
    initializer: initializer ?? undefined,
    initargs: initargs ?? [],
    maxTasksPerChild: maxTasksPerChild ?? undefined,
  };
}

/** @throws TypeError for a callback or signal of the wrong type; RangeError for a bad timeout */
export function checkApplyOptions(opts: ApplyOptions<never> | undefined): void {
  if (opts === undefined) return;
  const { timeout, signal, callback, errorCallback } = opts;
  checkTimeout(timeout, "Pool task");
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
  if (callback !== undefined && typeof callback !== "function") throw new TypeError("callback must be a function");
  if (errorCallback !== undefined && typeof errorCallback !== "function") {
    throw new TypeError("errorCallback must be a function");
  }
}

/** The items of a map, read at once. @throws TypeError unless `iterable` is iterable */
export function materialise(iterable: Iterable<unknown>, what: string): unknown[] {
  if (Array.isArray(iterable)) return iterable;
  if (iterable === null || typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new TypeError(`${what} needs an iterable of items, got ${describe(iterable)}`);
  }
  return Array.from(iterable);
}

/** The iterator of an imap's input. @throws TypeError unless `iterable` is iterable or async iterable */
export function iteratorOf(iterable: Iterable<unknown> | AsyncIterable<unknown>, what: string) {
  if (isAsyncIterable(iterable)) return iterable[Symbol.asyncIterator]();
  if (iterable !== null && typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] === "function") {
    return (iterable as Iterable<unknown>)[Symbol.iterator]();
  }
  throw new TypeError(`${what} needs an iterable or async iterable of items, got ${describe(iterable)}`);
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function"
  );
}

/** @throws TypeError for a starmap item that is not an array of arguments */
export function checkArgLists(items: unknown[], what: string): void {
  for (const [i, args] of items.entries()) {
    if (!Array.isArray(args))
      throw new TypeError(`${what} needs an array of arguments per item; item ${i} is ${describe(args)}`);
  }
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}
