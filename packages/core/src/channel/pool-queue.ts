/**
 * What the Pool does with its queues beyond the public Queue API: rings that
 * stay resident, items encoded where they are given and put later, and a
 * wait for an item that does not take it. Internal: not exported from the
 * package; Queue keeps the state, this module is its only door to it.
 */
import type { Item } from "./queue-item.ts";
import { poolQueueOps, type Queue, type QueueWaitOptions } from "./queue.ts";

/**
 * An unbounded queue on a ring of `capacity` bytes (a power of two, at most
 * RESIDENT_MAX) whose pages stay resident; items over an eighth of it go out
 * of line.
 */
export function residentQueue<T>(capacity: number): Queue<T> {
  return poolQueueOps.resident(capacity) as Queue<T>;
}

/**
 * Encodes `obj` now for `queue`, so a value that cannot be sent throws where
 * it was given, for a `putEncodedSync` later.
 * @throws PicklingError naming the path of the bad value
 */
export function encodeFor<T>(queue: Queue<T>, obj: T): Item {
  return poolQueueOps.encode(queue as Queue<unknown>, obj);
}

/** `putSync` of an item from `encodeFor`, which it consumes. */
export function putEncodedSync<T>(queue: Queue<T>, item: Item, opts?: QueueWaitOptions): void {
  poolQueueOps.putEncodedSync(queue as Queue<unknown>, item, opts);
}

/**
 * Resolves true once `queue` holds an item, false after `timeout` ms, without
 * taking it. The caller then takes items with `getNowait` in one synchronous
 * run: an item taken inside an async `get` sits in a promise until the event
 * loop turns, out of reach of a `getSync` that this thread may run meanwhile.
 */
export function readable<T>(queue: Queue<T>, timeout: number): Promise<boolean> {
  return poolQueueOps.readable(queue as Queue<unknown>, timeout);
}
