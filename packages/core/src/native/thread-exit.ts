/**
 * The end of one OS thread as a descriptor: a pidfd opened with PIDFD_THREAD
 * (Linux 6.9+) names a single thread, not its whole process, and becomes
 * readable when that thread exits. The worker backend's sentinel.
 */
import { fail, libc, SYS } from "./libc.ts";
import { closeFd } from "./file.ts";
import { threadId } from "./thread.ts";

/** pidfd_open flag: the pid is a thread id, and readiness means that thread exited. Equal to O_EXCL. */
const PIDFD_THREAD = 0x80;

/**
 * Opens a pidfd for the calling thread that becomes readable when the thread
 * ends. Opened by the thread itself, so its id cannot have been reused by
 * another thread in the meantime; the descriptor is process-wide and close-on-exec.
 *
 * @returns The descriptor; the caller (or whoever it hands it to) closes it.
 * @throws BackendError when the kernel lacks PIDFD_THREAD (before Linux 6.9)
 * @example
 * const fd = openThreadPidfd(); // in a worker: its parent polls fd to learn when it ended
 */
export function openThreadPidfd(): number {
  const tid = threadId();
  const fd = Number(libc.syscall(SYS.pidfd_open, tid, PIDFD_THREAD, 0, 0, 0, 0));
  if (fd < 0) fail(`pidfd_open(${tid}, PIDFD_THREAD)`);
  return fd;
}

/**
 * Whether this kernel can watch single threads (PIDFD_THREAD, Linux 6.9+),
 * which the worker backend needs. Probes once by opening and closing a pidfd
 * for the calling thread.
 *
 * @returns true when `openThreadPidfd` works here.
 * @example
 * const available = threadPidfdSupported();
 */
export function threadPidfdSupported(): boolean {
  supported ??= probe();
  return supported;
}

let supported: boolean | undefined;

function probe(): boolean {
  if (process.platform !== "linux") return false;
  try {
    closeFd(openThreadPidfd());
    return true;
  } catch {
    return false;
  }
}
