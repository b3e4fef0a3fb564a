/**
 * A fork child copies the parent's memory, its microtask queue included: a
 * library wait loop whose next step was due at fork(2) resumes in the child
 * as well. There it would take what is the parent's: a queue item, a pipe
 * message, a permit of a lock, a Pool reply (measured: a Pool forking its
 * workers from async code lost a reply in half of the runs). So each wait
 * loop notes its pid when it starts and, after every await, stops for good
 * when it finds itself in another process:
 *
 *   const pid = process.pid;
 *   ...
 *   await something;
 *   if (forkedSince(pid)) await forever;
 *
 * The copy then never touches the shared state again, and its `finally`
 * blocks (which would undo the parent's bookkeeping) never run.
 */

/** Whether this code runs in a fork child of the process `pid`. */
export function forkedSince(pid: number): boolean {
  return process.pid !== pid;
}

/** Never settles. */
export const forever: Promise<never> = new Promise<never>(() => {});
