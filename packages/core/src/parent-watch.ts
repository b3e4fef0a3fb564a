/** The parent as a child sees it: a handle that is ready once the parent process has ended. */
import type { ChildHandle } from "./backend.ts";
import { closeFd } from "./native/file.ts";
import { sleepSync } from "./native/futex.ts";
import { parentIs } from "./native/parent-death.ts";
import { pidfdOpen, pollReadable } from "./native/pidfd.ts";

/**
 * Watches a process that is not our child (the parent): ready when it ends.
 * Its exit status belongs to its own parent, so `poll` reports 0 once it ended.
 * A class, not closures: a fork child makes one on its way in, and each
 * closure would be one more object on a page it copies (#23).
 *
 * The pidfd is opened at the first use, not when made: a fork child takes
 * the one its parent made for all its children (`prepareInheritedChild`),
 * and most children never look at their parent (opening it cost each child
 * about 16 page faults, #23). While the watched process is still this
 * process's parent (getppid), its pid cannot have been reused, so opening it
 * late is as safe as opening it at once; when it is not, it has ended.
 */
class ParentWatch implements ChildHandle {
  readonly pid: number;
  /** The pidfd once opened; null when the process had ended before (or cannot be watched). */
  #fd: number | null | undefined;

  constructor(pid: number) {
    this.pid = pid;
  }

  /**
   * A worker thread's parent is a thread of this same process that outlives
   * it (a worker's own workers end with it): a pidfd would never be ready and
   * would leak one descriptor per worker. Looked at when used: a fork child's
   * watch was made in its parent, whose pid this was.
   */
  get #sameProcess(): boolean {
    return this.pid === process.pid;
  }

  get sentinel(): number | undefined {
    if (this.#fd === undefined) {
      this.#fd = null;
      if (!this.#sameProcess && parentIs(this.pid)) {
        try {
          this.#fd = pidfdOpen(this.pid);
        } catch {
          // Ended meanwhile.
        }
      }
    }
    return this.#fd ?? undefined;
  }

  #ended(): boolean {
    if (this.#sameProcess) return false;
    const fd = this.sentinel;
    return fd === undefined || pollReadable(fd, 0);
  }

  poll(): number | null {
    return this.#ended() ? 0 : null;
  }

  waitSync(ms: number | undefined): number | null {
    if (!this.#sameProcess) {
      const fd = this.sentinel;
      return fd === undefined || pollReadable(fd, ms) ? 0 : null;
    }
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
    if (typeof this.#fd === "number") closeFd(this.#fd);
    this.#fd = null;
  }
}

/** A handle on process `pid`, not our child (the parent), that is ready once it ended. */
export function watchParent(pid: number): ChildHandle {
  return new ParentWatch(pid);
}
