/**
 * Whether a kernel thread still runs, for the dead-owner rule of locks: a
 * waiter asks this about the thread id recorded as a lock's holder.
 */
import { readFileSync } from "node:fs";

/**
 * True while thread `tid` (of any process) exists and has not ended. A zombie
 * (a killed process its parent has not reaped yet) counts as ended: it holds
 * no lock any more, and a parent blocked in a lock wait may be the one that
 * would reap it.
 */
export function threadAlive(tid: number): boolean {
  let stat: string;
  try {
    // /proc/<tid> exists for every thread, not only for thread-group leaders.
    stat = readFileSync(`/proc/${tid}/stat`, "latin1");
  } catch {
    return false;
  }
  // "tid (comm) S ...": comm may itself hold ')', so read after the last one.
  const state = stat.charAt(stat.lastIndexOf(")") + 2);
  return state !== "Z" && state !== "X" && state !== "";
}
