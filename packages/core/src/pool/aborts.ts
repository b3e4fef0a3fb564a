/**
 * Stopping a Pool task early: its `timeout` or abort `signal`. Such a task
 * runs alone on an idle worker (see `pick` in scheduler.ts), so the pool
 * stops it by ending that worker; the signal's reason is the task's error.
 */
import { TimeoutError } from "../errors.ts";
import type { Job } from "./job.ts";
import type { PoolCore } from "./pool-core.ts";
import { dispatch, finish, unrun } from "./scheduler.ts";
import { retire } from "./workers.ts";

/** Listens for the abort of `job`'s signal, if it has one. */
export function watchAbort(core: PoolCore, job: Job): void {
  if (job.signal === undefined) return;
  const signal = job.signal;
  job.onAbort = () => abort(core, job, signal.reason);
  signal.addEventListener("abort", job.onAbort, { once: true });
}

/** Fails running jobs past their deadline or aborted (by ending their workers). */
export function checkJobs(core: PoolCore, now: number): void {
  for (const job of core.watched) {
    if (job.signal?.aborted) stop(core, job, job.signal.reason);
    else if (now >= job.deadline) {
      stop(core, job, new TimeoutError(`Task ${job.id} (${job.label}) did not finish within ${job.timeout} ms`));
    }
  }
}

function abort(core: PoolCore, job: Job, reason: unknown): void {
  if (job.done) return;
  if (job.worker === undefined) finish(job, false, reason);
  else stop(core, job, reason);
}

/** Ends the worker running `job` (it runs alone there) and fails the job. */
function stop(core: PoolCore, job: Job, error: unknown): void {
  const w = job.worker!;
  unrun(core, job);
  retire(core, w);
  w.proc.kill();
  finish(job, false, error);
  dispatch(core);
}
