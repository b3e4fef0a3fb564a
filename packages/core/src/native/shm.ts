/**
 * POSIX shared memory objects: files in /dev/shm, opened by name (glibc's
 * `shm_open` is exactly `open("/dev/shm/<name>", ...)` with close-on-exec,
 * and `shm_unlink` an `unlink`), so any process that knows the name, also
 * one this library did not start (Python's `SharedMemory`), maps the same pages.
 */
import { ptr } from "bun:ffi";
import { closeFd, fileStat } from "./file.ts";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";
import { type Mapping, mapSharedBytes } from "./pages.ts";

/** Where Linux (and glibc's shm_open) keeps POSIX shared memory objects. */
export const SHM_DIR = "/dev/shm";

const AT_FDCWD = -100;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
/** Python's `SharedMemory._mode`: owner read and write. */
const MODE = 0o600;

const encoder = new TextEncoder();

function pathOf(name: string): Uint8Array {
  return encoder.encode(`${SHM_DIR}/${name}\0`);
}

/**
 * Opens the shared memory object `name` read-write (`shm_open`); with
 * `create`, makes it (it must not exist yet) with mode 0600 and resizes it
 * to `size` bytes.
 * @returns The descriptor (close-on-exec); the caller closes it.
 * @throws BackendError with errno ENOENT (missing), EEXIST (exists, with `create`), ...
 */
export function shmOpen(name: string, create: boolean, size = 0): number {
  const flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
  const path = pathOf(name);
  let fd: number;
  for (;;) {
    fd = Number(libc.syscall(SYS.openat, AT_FDCWD, ptr(path), flags, MODE, 0, 0));
    if (fd >= 0) break;
    const e = errno();
    if (e !== Errno.EINTR) fail(`shm_open(${name})`, e);
  }
  if (create && libc.ftruncate(fd, size) !== 0) {
    const e = errno();
    closeFd(fd);
    shmUnlink(name);
    fail(`ftruncate(${name}, ${size})`, e);
  }
  return fd;
}

/**
 * Removes the name `name` (`shm_unlink`); the memory lives on while mapped.
 * @returns false when there was no such name (ENOENT).
 * @throws BackendError for any other failure
 */
export function shmUnlink(name: string): boolean {
  if (libc.unlink(pathOf(name)) === 0) return true;
  const e = errno();
  if (e === Errno.ENOENT) return false;
  fail(`shm_unlink(${name})`, e);
}

/** Size in bytes of the object open as `fd` (fstat). */
export function shmSize(fd: number): number {
  return fileStat(fd).size;
}

/** Maps `size` bytes of the object open as `fd`, read-write and MAP_SHARED. */
export function mapObject(fd: number, size: number): Mapping {
  return mapSharedBytes(fd, size);
}
