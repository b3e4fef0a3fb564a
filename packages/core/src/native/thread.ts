/** Identity of the calling OS thread: unique among live threads of every process. */
import { libc, SYS } from "./libc.ts";

let cached: number | undefined;

/** The kernel thread id of the caller (equal to the pid on a main thread). */
export function threadId(): number {
  // A JS realm lives on one OS thread, so the id is fixed per realm; a forked
  // child must call `resetThreadId()` because its id differs from the parent's.
  cached ??= Number(libc.syscall(SYS.gettid, 0, 0, 0, 0, 0, 0));
  return cached;
}

/** Forgets the cached id (after fork). */
export function resetThreadId(): void {
  cached = undefined;
}

/** Gives the CPU to another runnable thread, if any (sched_yield). */
export function yieldThread(): void {
  libc.sched_yield();
}
