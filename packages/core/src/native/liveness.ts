/**
 * Whether a kernel thread still runs, for the dead-owner rule of locks: a
 * waiter asks this about the thread id recorded as a lock's holder. Also
 * whether a process sleeps where nothing can wake it, for the fork backend.
 */
import { readFileBytes, readFileText } from "./file.ts";

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

/** futex(2)'s system call number, as /proc/<pid>/syscall shows it. */
const SYS_FUTEX = process.arch === "arm64" ? 98 : 202;
const FUTEX_CMD_MASK = 0x7f;
const FUTEX_WAIT = 0;
const FUTEX_WAIT_BITSET = 9;
const FUTEX_PRIVATE = 0x80;

/**
 * True when single-threaded process `pid` sleeps in a process-private futex
 * wait with no timeout: the runtime's own lock and condition waits
 * (pthread_cond_wait, Atomics.wait without a timeout). In a fork child,
 * which has no other thread to wake it, that sleep never ends. The library's
 * own waits always have a timeout, and their futex words are shared.
 */
export function parkedForever(pid: number): boolean {
  let call: string[];
  try {
    call = readFileText(`/proc/${pid}/syscall`).trim().split(" ");
  } catch {
    return false;
  }
  const op = Number(call[2]);
  return (
    Number(call[0]) === SYS_FUTEX &&
    (op & FUTEX_PRIVATE) !== 0 &&
    ((op & FUTEX_CMD_MASK) === FUTEX_WAIT || (op & FUTEX_CMD_MASK) === FUTEX_WAIT_BITSET) &&
    Number(call[4]) === 0
  );
}
