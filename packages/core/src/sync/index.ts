/** Synchronization primitives over shared words (Python: `multiprocessing.synchronize`). */
export { Barrier, type BarrierAction } from "./barrier.ts";
export { BoundedSemaphore } from "./bounded-semaphore.ts";
export { Condition } from "./condition.ts";
export { Event } from "./event.ts";
export type { Held } from "./held.ts";
export { Lock } from "./lock.ts";
export { RLock } from "./rlock.ts";
export type { AcquireOptions } from "./sem-lock.ts";
export { Semaphore } from "./semaphore.ts";
