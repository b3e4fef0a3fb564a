/**
 * The Worker threads of this process, for the fork backend: a child forked
 * while one runs JavaScript can inherit a runtime lock that thread held, and
 * wait on it forever (docs/fork.md, "Hangs").
 */
import { readFileText } from "./file.ts";
import { countThreadsNamed } from "./fork-child.ts";
import { wakerThreadId } from "./wake-on-change.ts";

/** Bun's name for the thread of a `Worker` (/proc/self/task/<tid>/comm). */
const WORKER_THREAD_NAME = "Worker\n";
/** The same, NUL-terminated, for fork-child.c (allocated once: the count runs before every fork). */
const WORKER_THREAD_NAME_C = new TextEncoder().encode(`${WORKER_THREAD_NAME}\0`);

/**
 * How many threads of this process are named as Bun Workers (user Workers,
 * worker-backend children, thread pools), not counting this realm's own
 * waker thread, which parks while its process forks (see `pauseWaker`).
 * An upper bound, exact only when it is 0: a new thread takes the name of the
 * thread that made it until it sets its own, so a runtime helper thread that
 * a Worker thread just started (JSCWarmUp, HeapHelper, ...) counts as a Worker
 * until it first runs (measured: up to 60 ms on a loaded machine, #18).
 */
export function workerThreadCount(): number {
  // In C when the native fork is compiled: no string per thread, each a page
  // the parent writes again after every fork.
  const counted = countThreadsNamed(WORKER_THREAD_NAME_C, wakerThreadId());
  if (counted !== undefined) return counted;
  const waker = String(wakerThreadId());
  // node:fs for the directory listing, loaded only here (see epoll.ts).
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  let count = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    if (tid === waker) continue;
    try {
      if (readFileText(`/proc/self/task/${tid}/comm`) === WORKER_THREAD_NAME) count++;
    } catch {
      // Ended while we looked.
    }
  }
  return count;
}
