/** The parent as a child sees it: a handle that is ready once the parent process has ended. */
import type { ChildHandle } from "./backend.ts";
import { closeFd } from "./native/file.ts";
import { sleepSync } from "./native/futex.ts";
import { pidfdOpen, pollReadable } from "./native/pidfd.ts";

/**
 * Watches a process that is not our child (the parent): ready when it ends.
 * Its exit status belongs to its own parent, so `poll` reports 0 once it ended.
 * A class, not closures: a fork child makes one on its way in, and each
 * closure would be one more object on a page it copies (#23).
 */
class ParentWatch implements ChildHandle {
  readonly pid: number;
  readonly sentinel: number | undefined;
  /**
   * A worker thread's parent is a thread of this same process that outlives
   * it (a worker's own workers end with it): a pidfd would never be ready and
   * would leak one descriptor per worker.
   */
  readonly #sameProcess: boolean;

  constructor(pid: number) {
    this.pid = pid;
    this.#sameProcess = pid === process.pid;
    let fd: number | undefined;
    try {
      fd = this.#sameProcess ? undefined : pidfdOpen(pid);
    } catch {
      fd = undefined; // Already gone.
    }
    this.sentinel = fd;
  }

  #ended(): boolean {
    return !this.#sameProcess && (this.sentinel === undefined || pollReadable(this.sentinel, 0));
  }

  poll(): number | null {
    return this.#ended() ? 0 : null;
  }

  waitSync(ms: number | undefined): number | null {
    if (!this.#sameProcess) return this.sentinel === undefined || pollReadable(this.sentinel, ms) ? 0 : null;
    // A thread's parent outlives it: only the time passes, and terminate() may end it.
    if (ms !== undefined) sleepSync(ms);
    return null;
  }

  async wait(ms: number | undefined): Promise<number | null> {
    const deadline = ms === undefined ? Number.POSITIVE_INFINITY : performance.now() + ms;
    while (!this.#ended() && performance.now() < deadline) await Bun.sleep(10);
    return this.#ended() ? 0 : null;
  }

  signal(sig: 9 | 15): void {
    process.kill(this.pid, sig);
  }

  close(): void {
    if (this.sentinel !== undefined) closeFd(this.sentinel);
  }
}

/** A handle on process `pid`, not our child (the parent), that is ready once it ended. */
export function watchParent(pid: number): ChildHandle {
  return new ParentWatch(pid);
}
