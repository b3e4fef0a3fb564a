/** The parent as a child sees it: a handle that is ready once the parent process has ended. */
import type { ChildHandle } from "./backend.ts";
import { closeFd } from "./native/file.ts";
import { sleepSync } from "./native/futex.ts";
import { pidfdOpen, pollReadable } from "./native/pidfd.ts";

/**
 * Watches a process that is not our child (the parent): ready when it ends.
 * Its exit status belongs to its own parent, so `poll` reports 0 once it ended.
 */
export function watchParent(pid: number): ChildHandle {
  // A worker thread's parent is a thread of this same process that outlives
  // it (a worker's own workers end with it): a pidfd would never be ready and
  // would leak one descriptor per worker.
  const sameProcess = pid === process.pid;
  let fd: number | undefined;
  try {
    fd = sameProcess ? undefined : pidfdOpen(pid);
  } catch {
    fd = undefined; // Already gone.
  }
  const ended = () => !sameProcess && (fd === undefined || pollReadable(fd, 0));
  return {
    pid,
    sentinel: fd,
    poll: () => (ended() ? 0 : null),
    waitSync: (ms) => {
      if (!sameProcess) return fd === undefined || pollReadable(fd, ms) ? 0 : null;
      // A thread's parent outlives it: only the time passes, and terminate() may end it.
      if (ms !== undefined) sleepSync(ms);
      return null;
    },
    wait: async (ms) => {
      const deadline = ms === undefined ? Number.POSITIVE_INFINITY : performance.now() + ms;
      while (!ended() && performance.now() < deadline) await Bun.sleep(10);
      return ended() ? 0 : null;
    },
    signal: (sig) => process.kill(pid, sig),
    close: () => {
      if (fd !== undefined) closeFd(fd);
    },
  };
}
