/** Ending a child when its parent dies (Linux PR_SET_PDEATHSIG). */
import { libc } from "./libc.ts";

const PR_SET_PDEATHSIG = 1;

/**
 * Asks the kernel to send `signal` to this process when its parent ends (0:
 * no signal, which cancels an earlier request), and returns false when the
 * parent `expectedParent` is already gone (the request would then never fire).
 */
export function dieWithParent(signal: number, expectedParent: number): boolean {
  libc.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
  return parentIs(expectedParent);
}

/** Whether `expectedParent` is still this process's parent (once it ends, the process is re-parented). */
export function parentIs(expectedParent: number): boolean {
  return libc.getppid() === expectedParent;
}
