/**
 * SimpleQueue: the unbounded queue with Python's small set of methods
 * (Python: `multiprocessing.SimpleQueue`): `get`/`getSync`, `put`/`putSync`,
 * `empty`, `close`. It is a Queue without a maxsize, so it also has the rest.
 */
import { registerReducer } from "../codec/reducers.ts";
import { Queue, type QueueParts, type QueueState } from "./queue.ts";

/**
 * An unbounded queue shared by processes and threads. Mirrors Python's `SimpleQueue`.
 *
 * @example
 * const q = mp.SimpleQueue<string>();
 * q.putSync("spam");
 * console.log(await q.get()); // "spam"
 */
export class SimpleQueue<T = unknown> extends Queue<T> {
  /** @param parts internal: the descriptors of a queue received from another process */
  constructor(parts?: QueueParts) {
    super(0, parts);
  }

  static {
    registerReducer(SimpleQueue, {
      tag: "SimpleQueue",
      reduce: (q: SimpleQueue) => q.reduceState(),
      rebuild: (state) => new SimpleQueue(Queue.partsFrom(state as QueueState)),
    });
  }
}
