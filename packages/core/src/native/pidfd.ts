/**
 * Waiting on a child process without reaping it: a pidfd becomes readable when
 * the child ends, and waitid(WNOWAIT) reads its status while leaving the zombie
 * for whoever owns the reaping (Bun's event loop, for children it spawned).
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";
import { waitReady } from "./poll.ts";

const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const WNOWAIT = 0x01000000;
const CLD_EXITED = 1;

/** Opens a pidfd for `pid` (Linux 5.3+). */
export function pidfdOpen(pid: number): number {
  const fd = Number(libc.syscall(SYS.pidfd_open, pid, 0, 0, 0, 0, 0));
  if (fd < 0) fail(`pidfd_open(${pid})`);
  return fd;
}

/**
 * Waits until `fd` (a pidfd, or a thread's) is readable, that is until its
 * process or thread has ended, at most `timeoutMs` (undefined: forever).
 * Returns true when readable.
 */
export function pollReadable(fd: number, timeoutMs?: number): boolean {
  return waitReady(fd, "read", timeoutMs);
}

/**
 * Status of an ended child, in Python's `returncode` form (exit code, or -N
 * for signal N), without reaping it; null while it runs, or when it has
 * already been reaped by someone else.
 */
export function peekExitStatus(pidfd: number): number | null {
  // siginfo_t: si_signo, si_errno, si_code, (pad), si_pid, si_uid, si_status
  const info = new Int32Array(32);
  const r = libc.waitid(P_PIDFD, pidfd, ptr(info), WEXITED | WNOWAIT | WNOHANG);
  if (r !== 0) {
    if (errno() === Errno.ECHILD) return null;
    fail("waitid");
  }
  if (info[4] === 0) return null; // WNOHANG and still running
  const status = info[6]!;
  return info[2] === CLD_EXITED ? status : -status;
}
