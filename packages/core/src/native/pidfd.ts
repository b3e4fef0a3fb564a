/**
 * Waiting on a child process without reaping it: a pidfd becomes readable when
 * the child ends, and waitid(WNOWAIT) reads its status while leaving the zombie
 * for whoever owns the reaping (Bun's event loop, for children it spawned).
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";
import { pollSlice, waitBegins, waitEnds } from "./thread-stop.ts";

const POLLIN = 0x1;
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
 * Waits until `fd` is readable, at most `timeoutMs` (undefined: forever).
 * Returns true when readable.
 */
export function pollReadable(fd: number, timeoutMs?: number): boolean {
  const pfd = new Int32Array([fd, POLLIN, 0]);
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  for (;;) {
    const left = deadline === undefined ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
    // A worker thread that can be terminated sleeps in slices and looks at its stop word between them.
    const slice = pollSlice(left);
    waitBegins();
    const r = libc.poll(ptr(pfd), 1, slice);
    const e = r < 0 ? errno() : 0;
    waitEnds();
    if (r > 0) return true;
    if (r === 0 && slice === left) return false;
    if (r < 0 && e !== Errno.EINTR) fail("poll", e);
  }
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
