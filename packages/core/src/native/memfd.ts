/**
 * Shared-memory segments: anonymous memfd files mapped MAP_SHARED. They have no
 * name in /dev/shm, so nothing is left behind when every holder has exited;
 * another process attaches through `/proc/<pid>/fd/<fd>` of any holder.
 */
import { toArrayBuffer } from "bun:ffi";
import { readFileSync } from "node:fs";
import { closeFd, fileStat, openFile, writeAt } from "./file.ts";
import { errno, fail, libc } from "./libc.ts";
import { mapSharedBytes } from "./pages.ts";

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const F_SEAL_SEAL = 0x1;
const F_SEAL_SHRINK = 0x2;
const F_SEAL_GROW = 0x4;
/** The seals of a fixed-size segment: its size can no longer change, nor its seals. */
const FIXED_SIZE = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW;

/** A mapped segment. `buffer` stays valid for the life of the process (never unmapped). */
export interface Segment {
  /** Descriptor that keeps the memory alive in this process. */
  readonly fd: number;
  /** Inode of the memfd: identifies the segment across processes. */
  readonly ino: number;
  readonly size: number;
  /** Address of the mapping in this process. */
  readonly address: number;
  readonly buffer: ArrayBuffer;
}

function map(fd: number, size: number, ino: number): Segment {
  return { fd, ino, ...mapSharedBytes(fd, size) };
}

/** A new zero-filled memfd of `size` bytes, its size sealed when `sealed`; closed again when a step fails. */
function newMemfd(size: number, label: string, sealed: boolean): number {
  const fd = libc.memfd_create(Buffer.from(`${label}\0`), MFD_CLOEXEC | (sealed ? MFD_ALLOW_SEALING : 0));
  if (fd < 0) fail("memfd_create");
  let failed: string | undefined;
  if (libc.ftruncate(fd, size) !== 0) failed = "ftruncate";
  else if (sealed && libc.fcntl(fd, F_ADD_SEALS, FIXED_SIZE) !== 0) failed = "fcntl(F_ADD_SEALS)";
  if (failed !== undefined) {
    const code = errno();
    closeFd(fd);
    fail(failed, code);
  }
  return fd;
}

/** Creates and maps a new zero-filled segment of `size` bytes. */
export function createSegment(size: number, label = "multiproc"): Segment {
  const fd = newMemfd(size, label, false);
  return map(fd, size, fileStat(fd).ino);
}

/**
 * Creates and maps a new zero-filled segment of `size` bytes whose size is
 * sealed: no holder can shrink it, so a peer handed it cannot make this
 * process's reads of it fault (SIGBUS past the end of a file).
 */
export function createFixedSegment(size: number, label = "multiproc"): Segment {
  const fd = newMemfd(size, label, true);
  return map(fd, size, fileStat(fd).ino);
}

/**
 * Maps descriptor `fd`, received from a peer, when it is a segment of
 * exactly `size` bytes sealed as `createFixedSegment` seals it (so the peer
 * cannot shrink it under this process's reads); throws a TypeError naming
 * what is wrong otherwise. The descriptor stays the caller's.
 */
export function mapFixedSegment(fd: number, size: number): Segment {
  const seals = libc.fcntl(fd, F_GET_SEALS, 0);
  if (seals < 0 || (seals & FIXED_SIZE) !== FIXED_SIZE) {
    throw new TypeError(`Descriptor ${fd} is not a segment of sealed size (seals ${seals}, need ${FIXED_SIZE})`);
  }
  const stat = fileStat(fd);
  if (stat.size !== size) throw new TypeError(`Segment of ${stat.size} bytes, expected ${size}`);
  return map(fd, size, stat.ino);
}

/**
 * Maps a segment that process `pid` holds open as descriptor `fd`.
 * Fails when that process has exited or closed it; `ino` guards against a
 * reused descriptor number.
 */
export function attachSegment(pid: number, fd: number, ino: number, size: number): Segment {
  const own = openFile(`/proc/${pid}/fd/${fd}`, "read-write");
  const stat = fileStat(own);
  if (stat.ino !== ino) {
    closeFd(own);
    throw new Error(`Descriptor ${fd} of process ${pid} is no longer the shared segment ${ino}`);
  }
  // Pages past the end of the file would fault (SIGBUS) when touched: the size must be the file's.
  if (stat.size !== size) {
    closeFd(own);
    throw new Error(`Shared segment ${ino} holds ${stat.size} bytes, not ${size}`);
  }
  return map(own, size, ino);
}

/**
 * The segment another realm of this same process (a Worker thread) mapped at
 * `address`: reused as it is, so a worker costs no descriptor or mapping per
 * segment. Mappings are never unmapped, so the address stays valid.
 */
export function adoptSegment(fd: number, ino: number, size: number, address: number): Segment {
  return { fd, ino, size, address, buffer: toArrayBuffer(address, 0, size) };
}

/**
 * Whether this process maps file `ino` at `address` for at least `size`
 * bytes, shared and read-write (from /proc/self/maps): an address another
 * realm sent is used only when it is.
 */
export function mappedAt(address: number, size: number, ino: number): boolean {
  const start = address.toString(16);
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    if (!line.startsWith(`${start}-`)) continue;
    const [range = "", perms = "", , , inode = ""] = line.split(/\s+/);
    const end = Number.parseInt(range.slice(start.length + 1), 16);
    return perms.startsWith("rw") && perms[3] === "s" && Number(inode) === ino && end - address >= size;
  }
  return false;
}

/** A sealed-in-spirit memfd holding `bytes`, for handing a message to a child as a descriptor. */
export function memfdWith(bytes: Uint8Array, label = "multiproc-msg"): number {
  const fd = libc.memfd_create(Buffer.from(`${label}\0`), MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create");
  writeAt(fd, bytes, 0);
  return fd;
}
