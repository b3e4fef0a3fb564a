/**
 * The one `dlopen` of libc: the typed symbol table every other file in
 * `native/` calls through, and errno turned into `BackendError`.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { BackendError } from "../errors.ts";

const { i32, i64, u32, u64, ptr, cstring } = FFIType;

/** Linux x86_64 / aarch64 system call numbers used through `syscall(2)`. */
export const SYS =
  process.arch === "arm64"
    ? { futex: 98, gettid: 178, pidfd_open: 434, pidfd_getfd: 438 }
    : { futex: 202, gettid: 186, pidfd_open: 434, pidfd_getfd: 438 };

const lib = dlopen(process.platform === "linux" ? "libc.so.6" : "libc.dylib", {
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64 },
  memfd_create: { args: [cstring, u32], returns: i32 },
  ftruncate: { args: [i32, i64], returns: i32 },
  mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: ptr },
  poll: { args: [ptr, u64, i32], returns: i32 },
  waitid: { args: [i32, u32, ptr, i32], returns: i32 },
  prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
  getppid: { args: [], returns: i32 },
  socketpair: { args: [i32, i32, i32, ptr], returns: i32 },
  send: { args: [i32, ptr, u64, i32], returns: i64 },
  recv: { args: [i32, ptr, u64, i32], returns: i64 },
  sendmsg: { args: [i32, ptr, i32], returns: i64 },
  recvmsg: { args: [i32, ptr, i32], returns: i64 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  sched_yield: { args: [], returns: i32 },
  munmap: { args: [u64, u64], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  // fork backend (native/fork.ts, madvise.ts, epoll.ts, signals.ts)
  fork: { args: [], returns: i32 },
  _exit: { args: [i32], returns: FFIType.void },
  getpid: { args: [], returns: i32 },
  madvise: { args: [u64, u64, i32], returns: i32 },
  pipe2: { args: [ptr, i32], returns: i32 },
  dup3: { args: [i32, i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  socket: { args: [i32, i32, i32], returns: i32 },
  epoll_create1: { args: [i32], returns: i32 },
  epoll_ctl: { args: [i32, i32, i32, ptr], returns: i32 },
  eventfd: { args: [u32, i32], returns: i32 },
  timerfd_create: { args: [i32, i32], returns: i32 },
  timerfd_gettime: { args: [i32, ptr], returns: i32 },
  timerfd_settime: { args: [i32, i32, ptr, ptr], returns: i32 },
  sigaction: { args: [i32, ptr, ptr], returns: i32 },
  sigprocmask: { args: [i32, ptr, ptr], returns: i32 },
  getrandom: { args: [ptr, u64, u32], returns: i64 },
  execve: { args: [cstring, ptr, ptr], returns: i32 },
  __errno_location: { args: [], returns: ptr },
});

/** The raw libc functions; only files in `native/` may call them. */
export const libc = lib.symbols;

/** errno of the last failed call on this thread. */
export function errno(): number {
  const at = libc.__errno_location();
  return at === null ? 0 : read.i32(at, 0);
}

/** Well-known errno values (Linux). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EAGAIN: 11,
  ECHILD: 10,
  ETIMEDOUT: 110,
  EPIPE: 32,
  ECONNRESET: 104,
  EBADF: 9,
} as const;

/** Throws a `BackendError` naming the call and errno. */
export function fail(call: string, code = errno()): never {
  throw new BackendError(`System call failed: ${call} (errno ${code})`, { errno: code });
}
