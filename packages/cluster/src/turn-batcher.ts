/**
 * Collects the applyAsync calls a cluster Pool gets in one event-loop turn
 * and hands them on, per function, when the turn ends: a lone call alone, the
 * others cut into batches bounded in count and bytes (apply-batch.ts gives
 * the batch message's format and bounds).
 */
import { type BatchEntry, MAX_BATCH_BYTES, MAX_BATCH_TASKS } from "./apply-batch.ts";

/** Sends the calls of one batch (or one lone call) to function `fn`. */
export type SendCalls = (fn: string, calls: BatchEntry[]) => void;

export class TurnBatcher {
  readonly #send: SendCalls;
  /** Calls of this turn not yet sent, by function. */
  #queued = new Map<string, BatchEntry[]>();
  #flushQueued = false;

  constructor(send: SendCalls) {
    this.#send = send;
  }

  /** Queues call `id` of `fn` with its encoded arguments, to be sent when this turn ends. */
  add(fn: string, id: string, args: Uint8Array): void {
    let calls = this.#queued.get(fn);
    if (calls === undefined) {
      calls = [];
      this.#queued.set(fn, calls);
    }
    calls.push([id, args]);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      // At the end of this turn, not on a timer: a lone call is never held back.
      queueMicrotask(() => this.flush());
    }
  }

  /** Sends every queued call now (close() does, so join() waits for them). */
  flush(): void {
    this.#flushQueued = false;
    const queued = this.#queued;
    this.#queued = new Map();
    for (const [fn, calls] of queued) {
      let start = 0;
      while (start < calls.length) {
        let end = start;
        let bytes = 0;
        while (end < calls.length && end - start < MAX_BATCH_TASKS) {
          const size = calls[end]![1].length;
          if (end > start && bytes + size > MAX_BATCH_BYTES) break;
          bytes += size;
          end++;
        }
        this.#send(fn, calls.slice(start, end));
        start = end;
      }
    }
  }

  /** Forgets every queued call (their tasks were failed already). */
  clear(): void {
    this.#queued.clear();
  }
}
