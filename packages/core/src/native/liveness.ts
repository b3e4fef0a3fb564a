/**
 * Whether a kernel thread still runs, for the dead-owner rule of locks: a
 * waiter asks this about the thread id recorded as a lock's holder.
 */
import { readFileBytes } from "./file.ts";

const CLOSE_PAREN = 0x29;
const ZOMBIE = 0x5a; // "Z"
const DEAD = 0x58; // "X"

/**
 * True while thread `tid` (of any process) exists and has not ended. A zombie
 * (a killed process its parent has not reaped yet) counts as ended: it holds
 * no lock any more, and a parent blocked in a lock wait may be the one that
 * would reap it.
 */
export function threadAlive(tid: number): boolean {
  let stat: Uint8Array;
  try {
    // /proc/<tid> exists for every thread, not only for thread-group leaders.
    stat = readFileBytes(`/proc/${tid}/stat`);
  } catch {
    return false;
  }
  // "tid (comm) S ...": comm may itself hold ')', so read after the last one.
  const state = stat[stat.lastIndexOf(CLOSE_PAREN) + 2];
  return state !== undefined && state !== ZOMBIE && state !== DEAD;
}
