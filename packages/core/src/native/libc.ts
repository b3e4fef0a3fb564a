/**
 * libc through `bun:ffi`: the one typed symbol table every other file in
 * `native/` calls through (each function bound by `dlopen` on first use),
 * and errno turned into `BackendError`.
 */
import { dlopen, type FFIFunction, FFIType, type Library, read } from "bun:ffi";
import { BackendError } from "../errors.ts";

const { i32, i64, u32, u64, ptr, cstring } = FFIType;

/** Linux x86_64 / aarch64 system call numbers used through `syscall(2)`. */
export const SYS =
  process.arch === "arm64"
    ? { futex: 98, gettid: 178, pidfd_open: 434, pidfd_getfd: 438, openat: 56, fstat: 80, pread64: 67, pwrite64: 68 }
    : { futex: 202, gettid: 186, pidfd_open: 434, pidfd_getfd: 438, openat: 257, fstat: 5, pread64: 17, pwrite64: 18 };

const LIBC = process.platform === "linux" ? "libc.so.6" : "libc.dylib";

/** Types a symbol table as `dlopen` itself would (enum members kept, for precise return types). */
function signatures<Fns extends Record<string, FFIFunction>>(fns: Fns): Fns {
  return fns;
}

/** Every libc function `native/` calls, with its C signature. */
const SYMBOLS = signatures({
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
  sigtimedwait: { args: [ptr, ptr, ptr], returns: i32 },
  getrandom: { args: [ptr, u64, u32], returns: i64 },
  getrusage: { args: [i32, ptr], returns: i32 },
  // listening and connecting sockets (native/stream-socket.ts)
  bind: { args: [i32, ptr, u32], returns: i32 },
  listen: { args: [i32, i32], returns: i32 },
  accept4: { args: [i32, ptr, ptr, i32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  getsockname: { args: [i32, ptr, ptr], returns: i32 },
  getpeername: { args: [i32, ptr, ptr], returns: i32 },
  getaddrinfo: { args: [cstring, cstring, ptr, ptr], returns: i32 },
  freeaddrinfo: { args: [ptr], returns: FFIType.void },
  execve: { args: [cstring, ptr, ptr], returns: i32 },
  __errno_location: { args: [], returns: ptr },
  // named shared memory (native/shm.ts) and its tracker's start (native/spawn.ts)
  unlink: { args: [cstring], returns: i32 },
  posix_spawn: { args: [ptr, cstring, ptr, ptr, ptr, ptr], returns: i32 },
  posix_spawn_file_actions_init: { args: [ptr], returns: i32 },
  posix_spawn_file_actions_destroy: { args: [ptr], returns: i32 },
  posix_spawn_file_actions_adddup2: { args: [ptr, i32, i32], returns: i32 },
  posix_spawn_file_actions_addopen: { args: [ptr, i32, cstring, i32, u32], returns: i32 },
  posix_spawn_file_actions_addchdir_np: { args: [ptr, cstring], returns: i32 },
  posix_spawnattr_init: { args: [ptr], returns: i32 },
  posix_spawnattr_destroy: { args: [ptr], returns: i32 },
  posix_spawnattr_setflags: { args: [ptr, i32], returns: i32 },
  posix_spawnattr_setpgroup: { args: [ptr, i32], returns: i32 },
  posix_spawnattr_setsigmask: { args: [ptr, ptr], returns: i32 },
});

type Symbols = Library<typeof SYMBOLS>["symbols"];

/**
 * The raw libc functions; only files in `native/` may call them. Each is bound
 * on first use: binding compiles a trampoline per function, and a new realm
 * (a worker child) paid about 0.5 ms to bind all of them, most never called there.
 */
export const libc = {} as Symbols;

for (const name of Object.keys(SYMBOLS) as (keyof Symbols)[]) {
  Object.defineProperty(libc, name, {
    configurable: true,
    enumerable: true,
    get() {
      const fn = dlopen(LIBC, { [name]: SYMBOLS[name] }).symbols[name];
      // From now on a plain property: calls on hot paths see no getter.
      Object.defineProperty(libc, name, { value: fn, enumerable: true });
      return fn;
    },
  });
}

let allBound = false;

/** Binds every libc function now (before a fork: a child must not call dlopen). */
export function bindAllSymbols(): void {
  if (allBound) return;
  for (const name of Object.keys(SYMBOLS) as (keyof Symbols)[]) void libc[name];
  allBound = true;
}

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
  EINPROGRESS: 115,
  ECONNREFUSED: 111,
  EADDRINUSE: 98,
  EEXIST: 17,
  EINVAL: 22,
  ENAMETOOLONG: 36,
} as const;

/** Throws a `BackendError` naming the call and errno. */
export function fail(call: string, code = errno()): never {
  throw new BackendError(`System call failed: ${call} (errno ${code})`, { errno: code });
}
