/** The process pool (Python: `multiprocessing.pool`). */
export { AsyncResult, type ResultCallbacks } from "./async-result.ts";
export { type ApplyOptions, parsePoolOptions, Pool, type PoolOptions } from "./pool.ts";
