/**
 * Files through their descriptors, straight over libc: open, positional read
 * and write, size and inode, close. Not `node:fs`: importing it cost each new
 * realm (every worker child) 1.5–6 ms, most of what its start should take.
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";

const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
/** Where st_ino and st_size sit in struct stat (the same on x86_64 and aarch64). */
const STAT_INO = 1;
const STAT_SIZE = 6;
/** Bytes of struct stat (144 on x86_64, 128 on aarch64). */
const STAT_BYTES = 144;
/** First read size of `readFileBytes` (a /proc file reports size 0, so its size is found by reading). */
const FIRST_CHUNK = 1024;

const encoder = new TextEncoder();
// An explicit ArrayBuffer: JSC may move a small inline typed array, so the
// address is taken at each call (never cached) from memory that stays put.
const stat = new BigInt64Array(new ArrayBuffer(STAT_BYTES));

/** What `fileStat` reports of a file. */
export interface FileStat {
  /** Inode number: identifies the file (a memfd, a socket) across descriptors and processes. */
  readonly ino: number;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * Opens `path`, close-on-exec (as `node:fs` does).
 *
 * @param path An absolute path, e.g. `/proc/<pid>/fd/<fd>`.
 * @param access "read", or "read-write".
 * @returns The new descriptor; the caller closes it.
 * @throws BackendError naming the path and errno (ENOENT: no such file).
 * @example
 * const fd = openFile("/dev/null", "read");
 */
export function openFile(path: string, access: "read" | "read-write"): number {
  const cpath = encoder.encode(`${path}\0`);
  const flags = (access === "read" ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  for (;;) {
    const fd = Number(libc.syscall(SYS.openat, AT_FDCWD, ptr(cpath), flags, 0, 0, 0));
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== Errno.EINTR) fail(`open(${path})`, e);
  }
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** Makes writes and reads on `fd` (its open file description) fail with EAGAIN instead of blocking. */
export function setNonBlocking(fd: number): void {
  const flags = libc.fcntl(fd, F_GETFL, 0);
  if (flags < 0 || libc.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) fail(`fcntl(${fd}, O_NONBLOCK)`);
}

/** Closes a descriptor, ignoring one that is already closed. */
export function closeFd(fd: number): void {
  // Linux releases the descriptor even when close reports an error (EINTR, EIO):
  // there is nothing to retry, and nothing else to release.
  libc.close(fd);
}

/**
 * Inode and size of the file behind `fd` (fstat).
 *
 * @throws BackendError when `fd` is not open.
 * @example
 * const { ino, size } = fileStat(fd);
 */
export function fileStat(fd: number): FileStat {
  if (Number(libc.syscall(SYS.fstat, fd, ptr(stat), 0, 0, 0, 0)) !== 0) fail(`fstat(${fd})`);
  return { ino: Number(stat[STAT_INO]), size: Number(stat[STAT_SIZE]) };
}

/**
 * Reads into `into` from file position `position` (pread: the descriptor's
 * own offset is left alone).
 *
 * @returns Bytes read: fewer than asked near the end, 0 at the end.
 * @throws BackendError on a read error.
 */
export function readAt(fd: number, into: Uint8Array, position: number): number {
  if (into.length === 0) return 0;
  for (;;) {
    const n = Number(libc.syscall(SYS.pread64, fd, ptr(into), into.length, position, 0, 0));
    if (n >= 0) return n;
    const e = errno();
    if (e !== Errno.EINTR) fail(`pread(${fd})`, e);
  }
}

/**
 * Writes all of `bytes` at file position `position` (pwrite, repeated until
 * every byte is written).
 *
 * @throws BackendError on a write error.
 */
export function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const n = Number(libc.syscall(SYS.pwrite64, fd, ptr(bytes, done), bytes.length - done, position + done, 0, 0));
    if (n >= 0) {
      done += n;
      continue;
    }
    const e = errno();
    if (e !== Errno.EINTR) fail(`pwrite(${fd})`, e);
  }
}

/**
 * The whole content of the file at `path`, read to its end: also right for
 * /proc files, whose reported size is 0.
 *
 * @throws BackendError when the file cannot be opened or read.
 */
export function readFileBytes(path: string): Uint8Array {
  const fd = openFile(path, "read");
  try {
    let out = new Uint8Array(FIRST_CHUNK);
    let done = 0;
    for (;;) {
      if (done === out.length) {
        const bigger = new Uint8Array(out.length * 2);
        bigger.set(out);
        out = bigger;
      }
      // read, not pread: a fresh descriptor reads from the start, and some /proc files only read in order.
      const n = Number(libc.read(fd, ptr(out, done), out.length - done));
      if (n === 0) return out.subarray(0, done);
      if (n > 0) done += n;
      else if (errno() !== Errno.EINTR) fail(`read(${path})`);
    }
  } finally {
    closeFd(fd);
  }
}

/**
 * `readFileBytes` as a latin1 string (one character per byte), for the text
 * files of /proc.
 *
 * @example
 * const maps = readFileText("/proc/self/maps");
 */
export function readFileText(path: string): string {
  const bytes = readFileBytes(path);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

/** Reads the whole of a descriptor from offset 0 (a memfd or file handed over by the parent). */
export function readWhole(fd: number): Uint8Array {
  const size = fileStat(fd).size;
  const out = new Uint8Array(size);
  let done = 0;
  while (done < size) {
    const n = readAt(fd, out.subarray(done), done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}
