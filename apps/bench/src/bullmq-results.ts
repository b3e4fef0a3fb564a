/**
 * The results of BullMQ jobs, by job id, from one QueueEvents listener: the
 * fastest honest way to wait for many jobs (job.waitUntilFinished adds three
 * listeners and a Redis poll per job). A job may finish before its id is
 * known here (its `add` has not resolved yet): that result is kept until asked for.
 */
import { QueueEvents } from "bullmq";

type Waiter = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class BullmqResults {
  readonly #events: QueueEvents;
  readonly #waiting = new Map<string, Waiter>();
  readonly #early = new Map<string, { ok: boolean; value: unknown }>();

  constructor(queue: string, port: number) {
    this.#events = new QueueEvents(queue, { connection: { host: "127.0.0.1", port } });
    this.#events.on("completed", ({ jobId, returnvalue }) => this.#settle(jobId, true, returnvalue));
    this.#events.on("failed", ({ jobId, failedReason }) => this.#settle(jobId, false, new Error(failedReason)));
  }

  /** Resolves once the listener reads the events stream (events before that are not seen). */
  ready(): Promise<unknown> {
    return this.#events.waitUntilReady();
  }

  #settle(id: string, ok: boolean, value: unknown): void {
    const w = this.#waiting.get(id);
    if (w === undefined) {
      this.#early.set(id, { ok, value });
      return;
    }
    this.#waiting.delete(id);
    if (ok) w.resolve(value);
    else w.reject(value as Error);
  }

  /** The return value of job `id`. */
  wait(id: string): Promise<unknown> {
    const early = this.#early.get(id);
    if (early !== undefined) {
      this.#early.delete(id);
      return early.ok ? Promise.resolve(early.value) : Promise.reject(early.value);
    }
    return new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
  }

  /** Fails every job still waited for with `error` (a sample past its deadline). */
  failAll(error: Error): void {
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }

  close(): Promise<void> {
    return this.#events.close();
  }
}
