/**
 * A Pool's workers: starting one, retiring it (it gets no more tasks and a
 * successor starts), telling it to stop after its queue, and ending them all.
 * What happens when one dies is in worker-deaths.ts.
 */
import { residentQueue } from "../channel/pool-queue.ts";
import type { Queue } from "../channel/queue.ts";
import type { Process } from "../process.ts";
import { type ForkedNames, forkedNames } from "./fork-names.ts";
import type { Job } from "./job.ts";
import type { PoolCore } from "./pool-core.ts";
import { poolWorker, type WorkerSetup, workerLoop } from "./pool-worker.ts";
import type { TaskMessage } from "../protocol/task.ts";

/**
 * Bytes of the ring of a worker's task queue: small enough to stay resident
 * (see ring.ts: no page faults on reuse). Items over an eighth of a ring go
 * out of line (a map chunk of 12 500 numbers is 100 KB: inline).
 */
const TASK_RING_BYTES = 1 << 20;
/** Bytes of the ring `compileWorkerLoop` uses once, and how long its empty get waits (ms). */
const WARM_RING_BYTES = 1 << 16;
const WARM_WAIT_MS = 1;
/** How long `terminate` waits for a worker to end after SIGTERM before SIGKILL (ms). */
const TERMINATE_GRACE_MS = 1000;

export interface Worker {
  readonly proc: Process;
  readonly tasks: Queue<TaskMessage | null>;
  /** Tasks sent and not answered, in the order the worker runs them. */
  readonly inFlight: Job[];
  /** Length of the fork backend's function table when this worker was forked. */
  readonly knows: number;
  /** Fork: the exports it can look up by name. */
  readonly names: ForkedNames | undefined;
  sent: number;
  /** Gets no more tasks: it is being replaced. */
  retiring: boolean;
  /** A STOP is in its queue, behind its tasks. */
  stopSent: boolean;
}

/** Numbers workers across pools, so names are unique in the process (Python: `ForkPoolWorker-N`). */
let workerCount = 0;

/**
 * Starts `count` workers. All of them are made before the first one forks:
 * after a fork, each page the parent writes is a copy-on-write fault while
 * that child lives, and making a worker (its queue, its Process, the names it
 * finds) between two forks measured 0.4 ms a worker (#23).
 */
export function startWorkers(core: PoolCore, count: number): void {
  const names = core.inherits ? forkedNames() : undefined;
  if (core.inherits) compileWorkerLoop();
  const made: Worker[] = [];
  let started = 0;
  try {
    for (let i = 0; i < count; i++) made.push(makeWorker(core, names));
    for (; started < made.length; started++) {
      made[started]!.proc.start();
      core.workers.push(made[started]!);
    }
  } finally {
    for (const w of made.slice(started)) w.tasks.close(); // not started: their queues go
  }
}

/** Starts one worker (a successor). */
export function startWorker(core: PoolCore): void {
  startWorkers(core, 1);
}

/** A worker not started yet: its task queue and Process. */
function makeWorker(core: PoolCore, names: ForkedNames | undefined): Worker {
  const tasks = residentQueue<TaskMessage | null>(TASK_RING_BYTES);
  const prefix = core.backend[0]!.toUpperCase() + core.backend.slice(1);
  const name = `${prefix}PoolWorker-${++workerCount}`;
  const setup = {
    tasks,
    results: core.results,
    initializer: core.initializer,
    initargs: core.initargs,
    maxTasks: core.maxTasks,
  };
  const local = core.local;
  const proc = core.inherits
    ? new core.Process({ name, daemon: true, target: workerLoop.bind(undefined, setup, local) })
    : new core.Process({
        name,
        daemon: true,
        target: poolWorker,
        args: [tasks, core.results, core.initializer, core.initargs, core.maxTasks],
      });
  return { proc, tasks, inFlight: [], knows: local.length, names, sent: 0, retiring: false, stopSent: false };
}

let compiled = false;

/**
 * Runs the worker loop once here, on a queue whose first item says stop: a
 * fork worker then inherits it compiled, and the queue's get path too,
 * instead of compiling them on its way in, on fresh heap pages, each a
 * copy-on-write fault (#23: 800-860 -> 511 faults per worker of a Pool that
 * starts and ends, with `exitNow` compiled ahead too).
 */
function compileWorkerLoop(): void {
  if (compiled) return;
  compiled = true;
  const stop = residentQueue<TaskMessage | null>(WARM_RING_BYTES);
  try {
    stop.putSync(null);
    const setup: WorkerSetup = { tasks: stop, results: stop as never, initializer: null, initargs: [], maxTasks: 0 };
    void workerLoop(setup);
    // And the wait of a worker whose queue is empty: it spins, then sleeps (1 ms, once per process).
    try {
      stop.getSync({ timeout: WARM_WAIT_MS });
    } catch {
      // Empty, as it should be.
    }
  } finally {
    stop.close();
  }
}

/** Takes `w` out of dispatch and starts its successor. */
export function retire(core: PoolCore, w: Worker): void {
  w.retiring = true;
  if (core.mayReplace()) startWorker(core);
}

/**
 * Replaces the workers that cannot run a new function (`stale`): each
 * finishes the tasks it holds, then exits.
 */
export function refork(core: PoolCore, stale: (w: Worker) => boolean): void {
  for (const w of [...core.workers]) {
    if (w.retiring || !stale(w)) continue;
    retire(core, w);
    w.tasks.putSync(null);
    w.stopSent = true;
  }
}

/** After close, once all work is done: each worker exits after its queue. */
export function sendStops(core: PoolCore): void {
  for (const w of core.workers) {
    if (w.stopSent) continue;
    w.stopSent = true;
    w.tasks.putSync(null);
  }
}

/** Ends every worker now: SIGTERM, then SIGKILL after a grace period; releases their queues. */
export function endWorkers(core: PoolCore): void {
  const workers = core.workers.splice(0);
  for (const w of workers) w.proc.terminate();
  for (const w of workers) {
    w.proc.joinSync(TERMINATE_GRACE_MS);
    if (w.proc.exitCode === null) {
      w.proc.kill();
      w.proc.joinSync(TERMINATE_GRACE_MS);
    }
    w.tasks.close();
    if (w.proc.exitCode !== null) w.proc.close();
  }
}
