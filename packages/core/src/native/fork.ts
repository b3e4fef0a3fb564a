/**
 * fork(2) and the calls around it: the raw fork, the immediate `_exit` a
 * child ends with, its real pid (the runtime caches `process.pid`), the pipe
 * a child reports on, and entropy for reseeding a child's random generators.
 */
import { ptr } from "bun:ffi";
import { bindAllSymbols, Errno, errno, fail, libc } from "./libc.ts";
import { blockEndSignals, restoreSignalMask } from "./signals.ts";

const O_CLOEXEC = 0o2000000;
const GRND_NONBLOCK = 1;

/** Forks this realm asked for, counted before each (so parent and child agree). */
let forks = 0;
/** The process that loaded this file: a fork child has its parent's value (and its own `process.pid`). */
const loadedIn = process.pid;

/**
 * Whether this process is a fork child: the runtime's own event sources
 * (`Bun.spawn`'s `exited`, sockets) do not run in it (docs/fork.md).
 */
export function inForkChild(): boolean {
  return process.pid !== loadedIn;
}

/** Counts a fork about to happen (by `forkProcess` or fork-child.ts's `forkWithSetup`). */
export function countFork(): void {
  forks++;
}

/** How many times this realm has forked (a fork child starts with its parent's count). */
export function forkCount(): number {
  return forks;
}

/**
 * Forks the calling process (glibc's fork, so its at-fork handlers run).
 * Returns the child's pid in the parent and 0 in the child. The caller must
 * have run `markAllForkable()` first: without it the child crashes at once.
 * The child starts with the signals of `resetCaughtSignals` blocked: it
 * calls that, then `unblockAllSignals` (a signal sent meanwhile then takes
 * its default action, never the parent's handler).
 */
export function forkProcess(): number {
  // The child must find every libc function bound: binding one calls dlopen,
  // whose locks another thread of the parent may have held at the fork.
  bindAllSymbols();
  countFork();
  const old = blockEndSignals();
  const pid = libc.fork();
  if (pid === 0) return 0;
  const e = errno();
  restoreSignalMask(old);
  if (pid < 0) fail("fork", e);
  return pid;
}

/**
 * Ends the calling process at once with `code`: no exit handlers, no
 * flushing (`_exit(2)`). With `dry` (a parent about to fork, #23) it only
 * compiles itself and returns, so that its fork children need not.
 */
export function exitNow(code: number, dry = false): never {
  // Looked up on the dry run too: a lookup a child made first cost it the
  // rebuilding of libc's property table after any collection of its parent (#23).
  const exit = libc._exit;
  if (dry) return undefined as never;
  exit(code);
  throw new Error("unreachable: _exit returned");
}

/** The kernel's pid of the caller, never a cached value. */
export function realPid(): number {
  return libc.getpid();
}

/** A close-on-exec pipe: `[readEnd, writeEnd]`. */
export function makePipe(): [number, number] {
  const fds = new Int32Array(2);
  if (libc.pipe2(ptr(fds), O_CLOEXEC) !== 0) fail("pipe2");
  return [fds[0]!, fds[1]!];
}

const oneByte = new Uint8Array(1);

/** Writes one byte to `fd`, retrying on EINTR; returns false when the reader is gone. */
export function writeByte(fd: number, value: number): boolean {
  oneByte[0] = value;
  for (;;) {
    if (Number(libc.write(fd, ptr(oneByte), 1)) === 1) return true;
    if (errno() !== Errno.EINTR) return false;
  }
}

/** Closes `fd` with close(2), ignoring errors (for descriptors that may already be gone). */
export function closeQuietly(fd: number): void {
  libc.close(fd);
}

// Allocated here, in the parent: a child that allocates touches fresh heap pages.
const word = new Uint32Array(new ArrayBuffer(4));

/** 32 bits from the kernel's random pool (getrandom), for reseeding a forked child. */
export function kernelRandom32(): number {
  if (Number(libc.getrandom(ptr(word), 4, GRND_NONBLOCK)) !== 4) {
    // The pool is always initialised long after boot; fall back to time bits anyway.
    word[0] = (performance.now() * 1e6) ^ libc.getpid();
  }
  return word[0]!;
}

const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;

/**
 * siginfo_t (si_signo, si_errno, si_code, pad, si_pid, si_uid, si_status, ...) for
 * `reapChild`: one for every call, not one each, which the parent's start()
 * did for each child it looked at (#23).
 */
const siginfo = new Int32Array(32);

/**
 * Reaps the ended child behind `pidfd` and returns its status in Python's
 * `returncode` form (exit code, or -N for signal N); null while it runs.
 * Unlike `peekExitStatus` this frees the zombie: only for children this
 * process forked itself, which no one else reaps.
 */
export function reapChild(pidfd: number): number | null {
  const info = siginfo;
  // Zeroed first: with WNOHANG and no child ready, the kernel may leave si_pid as it was.
  info[4] = 0;
  for (;;) {
    if (libc.waitid(P_PIDFD, pidfd, ptr(info), WEXITED | WNOHANG) === 0) break;
    const e = errno();
    if (e === Errno.EINTR) continue;
    fail("waitid", e);
  }
  if (info[4] === 0) return null;
  const status = info[6]!;
  return info[2] === CLD_EXITED ? status : -status;
}
