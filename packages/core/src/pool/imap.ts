/**
 * The iterator behind `Pool.imap` and `imapUnordered` (Python:
 * `IMapIterator`): reads the input lazily, a bounded number of chunks ahead
 * of the consumer, and yields results in input or arrival order.
 */
import { ProcessError } from "../errors.ts";
import { enqueue } from "./driver.ts";
import { type Job, makeJob, type TaskRef } from "./job.ts";
import type { PoolCore } from "./pool-core.ts";
import { finish } from "./scheduler.ts";
import { Kind } from "../protocol/task.ts";
import { packNumbers } from "./task.ts";

/** Chunks an `imap` keeps submitted and not yet consumed, per worker. */
const IMAP_WINDOW = 16;

/** Yields `fn` over `source`'s items, `chunksize` to a task; see `Pool.imap` for the rules on errors. */
export async function* iterate<R>(
  core: PoolCore,
  ref: TaskRef,
  source: Iterator<unknown> | AsyncIterator<unknown>,
  chunksize: number,
  ordered: boolean,
  label: string,
): AsyncGenerator<R> {
  type Outcome = { ok: boolean; value: unknown };
  const done = new Map<number, Outcome>(); // by chunk number (ordered) or arrival (unordered)
  let arrived = 0;
  let submitted = 0;
  let yielded = 0;
  let exhausted = false;
  /** What reading the input threw: thrown once every chunk read before it is yielded. */
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const jobs = new Set<Job>();
  const window = Math.max(2, core.size * IMAP_WINDOW);
  try {
    for (;;) {
      while (!exhausted && submitted - yielded < window) {
        const chunk: unknown[] = [];
        while (chunk.length < chunksize) {
          let next: IteratorResult<unknown>;
          try {
            next = await source.next();
          } catch (error) {
            // Python's rule (#18): the chunks before run and are yielded, then
            // this error; the chunk it broke off is dropped, as Python's
            // task generator drops it. The iterator is done: no return().
            failure = { error };
            exhausted = true;
            chunk.length = 0;
            break;
          }
          if (next.done) {
            exhausted = true;
            break;
          }
          chunk.push(next.value);
        }
        if (chunk.length === 0) break;
        // Chunks read before close() still run, as in Python, whose imap queues its whole input at once.
        if (core.broken !== undefined) throw core.broken;
        if (core.terminated()) throw new ProcessError("Pool is not running (it was terminated)");
        const n = submitted++;
        const job = makeJob(core, ref, Kind.MAP, packNumbers(chunk), n * chunksize, undefined, label, (ok, value) => {
          jobs.delete(job);
          done.set(ordered ? n : arrived++, { ok, value });
          wake?.();
        });
        jobs.add(job);
        enqueue(core, [job]);
      }
      if (exhausted && yielded === submitted) {
        if (failure !== undefined) throw failure.error;
        return;
      }
      const outcome = done.get(yielded);
      if (outcome === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      done.delete(yielded);
      yielded++;
      if (!outcome.ok) throw outcome.value;
      for (const value of outcome.value as R[]) yield value;
    }
  } finally {
    // The consumer stopped early (or an error): tasks not sent yet are dropped.
    for (const job of jobs) if (job.worker === undefined) finish(job, false, new ProcessError("imap ended"));
    if (!exhausted) await source.return?.();
  }
}
