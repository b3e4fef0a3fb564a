/** Synchronization primitives over shared words (Python: `multiprocessing.synchronize`). */
export type { Held } from "./held.ts";
export { Lock } from "./lock.ts";
export { RLock } from "./rlock.ts";
export type { AcquireOptions } from "./sem-lock.ts";
