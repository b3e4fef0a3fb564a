/**
 * JoinableQueue: a Queue whose consumers confirm each item with `taskDone`,
 * so a producer can `join` until all are processed (Python:
 * `multiprocessing.JoinableQueue`).
 *
 * The unfinished count is PUTS - DONE: PUTS is published together with each
 * item (see `ring.ts`) and DONE counts `taskDone` calls, so a producer killed
 * in the middle of a put can never leave a count that `join` waits on forever.
 */
import { registerReducer } from "../codec/reducers.ts";
import { TimeoutError } from "../errors.ts";
import { futexWake } from "../native/futex.ts";
import { checkTimeout } from "../timeout.ts";
import { deadlineOf } from "../wait/deadline.ts";
import { awaitCounted, sleepCounted } from "../wait/word.ts";
import { Queue, type QueueState } from "./queue.ts";
import { type Ring, Slot } from "./ring.ts";

function unfinished(ring: Ring): number {
  return (Atomics.load(ring.words, Slot.PUTS) - Atomics.load(ring.words, Slot.DONE)) | 0;
}

/**
 * A Queue with task accounting. Mirrors Python's `JoinableQueue`.
 *
 * @example
 * const q = mp.JoinableQueue<number>();
 * // consumer: const n = q.getSync(); work(n); q.taskDone();
 * await q.join(); // every item put so far was taken and marked done
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * Marks one item taken from the queue as processed (Python: `task_done`).
   * @throws RangeError when called more times than items were put
   */
  taskDone(): void {
    const ring = this.ringFor("mark a task done");
    const w = ring.words;
    for (;;) {
      const done = Atomics.load(w, Slot.DONE);
      if (((Atomics.load(w, Slot.PUTS) - done) | 0) <= 0) {
        throw new RangeError("taskDone() called more times than there were items in the queue");
      }
      if (Atomics.compareExchange(w, Slot.DONE, done, (done + 1) | 0) === done) break;
    }
    if (Atomics.load(w, Slot.JOINERS) > 0 && unfinished(ring) === 0) futexWake(ring.address(Slot.DONE), 0x7fff_ffff);
  }

  /**
   * Blocks the calling thread until every item put has been marked done (Python: `join`).
   * @throws TimeoutError when `timeout` ms pass first
   */
  joinSync(timeout?: number): void {
    const ring = this.ringFor("join");
    const ms = checkTimeout(timeout, "JoinableQueue.join");
    const deadline = deadlineOf(ms);
    for (;;) {
      const done = Atomics.load(ring.words, Slot.DONE);
      if (unfinished(ring) <= 0) return;
      if (performance.now() >= deadline) throw this.#timedOut(ring, ms!);
      sleepCounted(ring.words, Slot.JOINERS, ring.address(Slot.DONE), done, deadline);
    }
  }

  /** Like `joinSync`, without blocking the event loop. */
  async join(timeout?: number): Promise<void> {
    const ms = checkTimeout(timeout, "JoinableQueue.join");
    const deadline = deadlineOf(ms);
    for (;;) {
      const ring = this.ringFor("join");
      const done = Atomics.load(ring.words, Slot.DONE);
      if (unfinished(ring) <= 0) return;
      if (performance.now() >= deadline) throw this.#timedOut(ring, ms!);
      await awaitCounted(ring.words, Slot.JOINERS, ring.address(Slot.DONE), done, deadline);
    }
  }

  #timedOut(ring: Ring, timeout: number): TimeoutError {
    return new TimeoutError(`JoinableQueue.join() timed out after ${timeout} ms: ${unfinished(ring)} tasks unfinished`);
  }

  static {
    registerReducer(JoinableQueue, {
      tag: "JoinableQueue",
      reduce: (q: JoinableQueue) => q.reduceState(),
      rebuild: (state) => new JoinableQueue(0, Queue.partsFrom(state as QueueState)),
    });
  }
}
