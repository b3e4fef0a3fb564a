/**
 * What a Pool does when a worker ends: the task it was running (the one it
 * took last and did not answer) fails with a ProcessError, the tasks it had
 * not taken go back to the front of the queue, and a new worker takes its
 * place. CPython's Pool hangs there forever.
 */
import { ProcessError } from "../errors.ts";
import type { PoolCore } from "./pool-core.ts";
import { drainReplies, finish, requeue, unrun } from "./scheduler.ts";
import { startWorker, type Worker } from "./workers.ts";

/** Reaps ended workers: fails the task each was running, hands on the ones it had not taken. */
export function checkWorkers(core: PoolCore): void {
  for (const w of [...core.workers]) {
    const code = w.proc.exitCode;
    if (code !== null) onExit(core, w, code);
  }
}

function onExit(core: PoolCore, w: Worker, code: number): void {
  drainReplies(core); // What it answered before it ended.
  core.workers.splice(core.workers.indexOf(w), 1);
  const lost = w.inFlight.slice();
  if (lost.length > 0) {
    const queued = w.tasks.qsize() - (w.stopSent && w.tasks.qsize() > 0 ? 1 : 0);
    const taken = Math.max(0, lost.length - queued);
    for (const [i, job] of lost.entries()) {
      unrun(core, job);
      job.worker = undefined;
      if (i < taken) {
        const pid = w.proc.pid === process.pid ? "" : ` (pid ${w.proc.pid})`;
        finish(
          job,
          false,
          new ProcessError(
            `Pool worker ${w.proc.name}${pid} ended with exit code ${code} while running task ${job.id} (${job.label})`,
          ),
        );
      }
    }
    requeue(core, lost.slice(taken));
  }
  w.tasks.close();
  w.proc.close();
  if (!w.retiring && core.mayReplace()) startWorker(core);
}
