/**
 * What moves a Pool along: no result-handler thread, but one round of
 * housekeeping (replies, worker liveness, deadlines, dispatch) run from the
 * parent's event loop while tasks are out (`readLoop`), or from the calling
 * thread by the `Sync` forms (`pumpSync`).
 */
import { readable } from "../channel/pool-queue.ts";
import { Empty } from "../errors.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { checkJobs, watchAbort } from "./aborts.ts";
import type { Job } from "./job.ts";
import type { PoolCore } from "./pool-core.ts";
import { breakPool, dispatch, drainReplies, onReply } from "./scheduler.ts";
import { checkWorkers } from "./worker-deaths.ts";
import { sendStops } from "./workers.ts";

/** How often a pool with tasks out checks that its workers live (ms). */
const LIVENESS_MS = 20;

/** Queues jobs made by `makeJob` and sends what workers can take now. */
export function enqueue(core: PoolCore, jobs: Job[]): void {
  for (const job of jobs) {
    watchAbort(core, job);
    core.pending.push(job);
  }
  dispatch(core);
  ensureReading(core);
}

/** Reading, liveness, limits and dispatch: one round. */
function housekeep(core: PoolCore): void {
  const now = performance.now();
  if (now - core.lastCheck >= LIVENESS_MS) {
    core.lastCheck = now;
    checkWorkers(core);
  }
  if (core.watched.size > 0) checkJobs(core, now);
  dispatch(core);
  if (core.state === "close" && !core.hasWork()) sendStops(core);
}

/** ms until the next housekeeping is due. */
function nextWait(core: PoolCore): number {
  const now = performance.now();
  let wait = Math.max(0, core.lastCheck + LIVENESS_MS - now);
  for (const job of core.watched) wait = Math.min(wait, Math.max(0, job.deadline - now));
  return wait;
}

/** Starts the event-loop reader unless it runs or there is nothing to read. */
export function ensureReading(core: PoolCore): void {
  if (core.reading || !core.hasWork() || core.state === "terminate") return;
  core.reading = true;
  void readLoop(core);
}

async function readLoop(core: PoolCore): Promise<void> {
  try {
    while (core.hasWork() && !core.terminated()) {
      // Wait without taking: replies are taken and handled in one synchronous
      // run, so a `Sync` call of this thread never waits for a reply held here.
      await readable(core.results, nextWait(core));
      // The pool forks its workers from its user's async code, often while this step is due.
      if (forkedSince(core.pid)) await forever;
      if (core.terminated()) return;
      drainReplies(core);
      housekeep(core);
    }
  } catch (error) {
    // Nothing else awaits this loop: a failure here (a replacement worker
    // that cannot start, say) fails the work instead of going unhandled.
    breakPool(core, error, "The pool cannot go on");
  } finally {
    core.reading = false;
    wakeIdle(core);
  }
}

/** Reads replies in the calling thread until `done()` or `deadline`; true when done. */
export function pumpSync(core: PoolCore, done: () => boolean, deadline: number): boolean {
  for (;;) {
    if (done()) return true;
    const left = deadline - performance.now();
    if (left <= 0 || core.state === "terminate") return done();
    if (!core.hasWork()) {
      // Nothing out that could make it done (settled elsewhere meanwhile).
      return done();
    }
    try {
      onReply(core, core.results.getSync({ timeout: Math.min(left, nextWait(core)) }));
      drainReplies(core);
    } catch (error) {
      if (!(error instanceof Empty)) throw error;
    }
    housekeep(core);
  }
}

/** Resolves the `join()` calls waiting for the work to end, once it has. */
export function wakeIdle(core: PoolCore): void {
  if (core.hasWork()) return;
  for (const wake of core.idleWaiters.splice(0)) wake();
}
