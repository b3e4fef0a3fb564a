/**
 * The spare: one Worker made ahead of need, which has loaded core and waits
 * READY, so that the next `start()` only hands it the child (Python's
 * forkserver does the like for processes). A Worker costs its thread about
 * 1.5 ms to make and core's child realm about 2–4 ms to load here, most of
 * a worker child's start; the spare pays it while the program does other
 * things. Each `start()` that took it has the next one made (`replaceSpare`).
 * Only the main thread keeps one. Before a fork it is let go
 * (`registerBeforeFork`): fork(2) copies only the calling thread, and a
 * child could wait forever on a lock the spare held at that moment.
 */
import { registerBeforeFork } from "@multiproc/core/internal";
import { prepareWorker, type WorkerChild } from "./worker-child.ts";

/** How long letting the spare go may wait for its thread to end (ms); it is idle, so this is ample. */
const DISMISS_TIMEOUT_MS = 2000;
/**
 * Starts closer together than this come about as fast as a spare gets ready
 * (6–8 ms here): the next one is made at once. Further apart, it is made once
 * the child has ended, and does not compete with it for the CPU meanwhile.
 */
const EAGER_WITHIN_MS = 20;

let spare: WorkerChild | undefined;
let lastStart = Number.NEGATIVE_INFINITY;

/** The spare, now the caller's, if there is one that may still be given a child. */
export function takeSpare(): WorkerChild | undefined {
  const taken = spare;
  spare = undefined;
  if (taken === undefined || taken.usable) return taken;
  taken.dismiss(DISMISS_TIMEOUT_MS); // it failed or ended on its own: its thread is gone or going
  return undefined;
}

/** Has the next spare made, now or once `child` (just started) has ended; see `EAGER_WITHIN_MS`. */
export function replaceSpare(child: WorkerChild): void {
  const now = performance.now();
  if (now - lastStart < EAGER_WITHIN_MS) makeSpare();
  else void child.ended.then(makeSpare);
  lastStart = now;
}

/** Makes a spare unless there is one. Set MULTIPROC_WORKER_SPARE=0 to never keep one. */
function makeSpare(): void {
  if (spare !== undefined || !Bun.isMainThread || process.env.MULTIPROC_WORKER_SPARE === "0") return;
  spare = prepareWorker();
}

/** Ends the spare, if any, and waits for its thread to be gone. */
export function dismissSpare(): void {
  spare?.dismiss(DISMISS_TIMEOUT_MS);
  spare = undefined;
}

registerBeforeFork(dismissSpare);
