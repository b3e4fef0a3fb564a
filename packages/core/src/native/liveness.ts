/**
 * Whether a kernel thread still runs, for the dead-owner rule of locks: a
 * waiter asks this about the thread id recorded as a lock's holder. Also
 * whether it sleeps in a futex, for the fork backend's start check.
 */
import { readFileBytes, readFileText } from "./file.ts";

const CLOSE_PAREN = 0x29;
const ZOMBIE = 0x5a; // "Z"
const DEAD = 0x58; // "X"
const SLEEPING = 0x53; // "S"

/**
 * True while thread `tid` (of any process) exists and has not ended. A zombie
 * (a killed process its parent has not reaped yet) counts as ended: it holds
 * no lock any more, and a parent blocked in a lock wait may be the one that
 * would reap it.
 */
export function threadAlive(tid: number): boolean {
  const state = stateOf(tid);
  return state !== undefined && state !== ZOMBIE && state !== DEAD;
}

/**
 * True when process or thread `tid` sleeps in a futex wait right now (state
 * S, kernel wait channel a futex one). For a fork child that has not
 * announced its start, where nothing sleeps, it means a runtime lock whose
 * holder the child does not have.
 */
export function sleepsInFutex(tid: number): boolean {
  if (stateOf(tid) !== SLEEPING) return false;
  try {
    return readFileText(`/proc/${tid}/wchan`).includes("futex");
  } catch {
    return false;
  }
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

/** The state letter of `tid` (R, S, D, Z, ...), undefined when it does not exist. */
function stateOf(tid: number): number | undefined {
  let stat: Uint8Array;
  try {
    // /proc/<tid> exists for every thread, not only for thread-group leaders.
    stat = readFileBytes(`/proc/${tid}/stat`);
  } catch {
    return undefined;
  }
  // "tid (comm) S ...": comm may itself hold ')', so read after the last one.
  return stat[stat.lastIndexOf(CLOSE_PAREN) + 2];
}
