/**
 * A Pool's scheduler: jobs pending and running, which worker takes the next
 * one and how many it may hold, replies, and settling. Each worker has its
 * own task queue and the parent chooses the worker, so the parent always
 * knows which tasks a worker holds (see worker-deaths.ts).
 */
import { putEncodedSync } from "../channel/pool-queue.ts";
import { Empty, ProcessError } from "../errors.ts";
import { encodeTask, isAlone, type Job, messageOf } from "./job.ts";
import { AHEAD_MS, type PoolCore } from "./pool-core.ts";
import { INITIALIZER_FAILED, parseReply, type ReplyMessage } from "../protocol/task.ts";
import { retire, type Worker } from "./workers.ts";

/** Most tasks one worker holds at once. */
const MAX_DEPTH = 32;

/** How many tasks a worker may hold: enough for about AHEAD_MS of work. */
function depth(core: PoolCore): number {
  return Math.max(1, Math.min(MAX_DEPTH, Math.floor(AHEAD_MS / core.taskMs)));
}

/** Sends pending jobs to the workers that may take them now. */
export function dispatch(core: PoolCore): void {
  const d = depth(core);
  while (core.head < core.pending.length) {
    const job = core.pending[core.head]!;
    if (job.done) {
      core.head++;
      continue;
    }
    const w = pick(core, job, d);
    if (w === undefined) break;
    core.head++;
    send(core, job, w);
  }
  if (core.head > 1024 && core.head * 2 > core.pending.length) {
    core.pending = core.pending.slice(core.head);
    core.head = 0;
  }
}

/** The least busy worker that may take `job`, if any. */
function pick(core: PoolCore, job: Job, depth: number): Worker | undefined {
  const alone = job.timeout !== undefined || job.signal !== undefined;
  let best: Worker | undefined;
  for (const w of core.workers) {
    if (w.retiring || job.local >= w.knows) continue;
    const n = w.inFlight.length;
    if (n > 0 && (alone || isAlone(w.inFlight[0]!) || n >= depth)) continue;
    if (best === undefined || n < best.inFlight.length) best = w;
  }
  return best;
}

function send(core: PoolCore, job: Job, w: Worker): void {
  const item = job.item ?? encodeTask(core, messageOf(job));
  job.item = undefined;
  putEncodedSync(w.tasks, item);
  job.worker = w;
  // A task's time limit counts from here: it runs alone, so its worker starts it now.
  if (job.timeout !== undefined) job.deadline = performance.now() + job.timeout;
  if (isAlone(job)) core.watched.add(job);
  w.inFlight.push(job);
  core.running.set(job.id, job);
  w.sent++;
  if (core.maxTasks > 0 && w.sent >= core.maxTasks) retire(core, w);
}

/**
 * Settles the job a worker's reply answers. A malformed reply never throws
 * here (that would end the pool's driver): it fails the job it names, as the
 * worker's own error would, or when it names none is reported as a warning.
 */
export function onReply(core: PoolCore, message: unknown): void {
  let reply: ReplyMessage;
  try {
    reply = parseReply(message);
  } catch (error) {
    const id = Array.isArray(message) ? message[0] : undefined;
    const job = typeof id === "number" ? core.running.get(id) : undefined;
    if (job === undefined) process.emitWarning(error as Error);
    else {
      unrun(core, job);
      finish(job, false, error);
    }
    return;
  }
  const [id, ok, value, ms] = reply;
  if (id === INITIALIZER_FAILED) {
    breakPool(core, value);
    return;
  }
  const job = core.running.get(id);
  if (job === undefined) return; // Failed already (timeout, abort) before the worker answered.
  unrun(core, job);
  core.taskMs = core.taskMs * 0.8 + Math.max(ms, 0.001) * 0.2;
  finish(job, ok, value);
}

/** Handles every reply already in the result queue. */
export function drainReplies(core: PoolCore): void {
  const results = core.results;
  while (!results.closed && !results.empty()) {
    let reply: unknown;
    try {
      reply = results.getNowait();
    } catch (error) {
      if (error instanceof Empty) return;
      throw error;
    }
    onReply(core, reply);
  }
}

/** Forgets `job` as running on its worker. */
export function unrun(core: PoolCore, job: Job): void {
  core.running.delete(job.id);
  core.watched.delete(job);
  const list = job.worker!.inFlight;
  const at = list[0] === job ? 0 : list.indexOf(job);
  if (at >= 0) list.splice(at, 1);
}

/** Settles `job` once. */
export function finish(job: Job, ok: boolean, value: unknown): void {
  if (job.done) return;
  job.done = true;
  if (job.onAbort !== undefined) job.signal!.removeEventListener("abort", job.onAbort);
  job.settle(ok, value);
}

/** Puts jobs a dead worker had not taken back at the front, in order. */
export function requeue(core: PoolCore, jobs: Job[]): void {
  if (jobs.length === 0) return;
  core.pending = [...jobs, ...core.pending.slice(core.head)];
  core.head = 0;
}

/** The initializer failed (or the pool cannot go on): every task fails with its error, now and later. */
export function breakPool(core: PoolCore, cause: unknown, what = "The pool's initializer failed"): void {
  if (core.broken !== undefined) return;
  const why = cause instanceof Error ? cause.message : String(cause);
  core.broken = new ProcessError(`${what}: ${why}`, { cause });
  failAll(core, core.broken);
}

/** Fails every job pending or running. */
export function failAll(core: PoolCore, error: ProcessError): void {
  for (const job of core.pending.slice(core.head)) finish(job, false, error);
  core.pending = [];
  core.head = 0;
  for (const job of [...core.running.values()]) {
    unrun(core, job);
    finish(job, false, error);
  }
}
