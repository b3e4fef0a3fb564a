/**
 * Mapping a descriptor this process owns (a queue's ring, received as a
 * descriptor rather than opened by path), giving pages back, and unmapping.
 */
import { toArrayBuffer } from "bun:ffi";
import { fileStat } from "./file.ts";
import { fail, libc } from "./libc.ts";

const PROT_NONE = 0;
const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MADV_REMOVE = 9;

/** A shared mapping of a whole file. */
export interface Mapping {
  readonly address: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
}

/**
 * Address ranges of mappings this realm retired (`retire`), each reserved
 * with no access and kept with its ArrayBuffer, to map the next file of the
 * same size at. JavaScriptCore counts the bytes of every new ArrayBuffer as
 * memory allocated, even over a mapping: a Pool's rings (4 MiB and 1 MiB a
 * worker) made the parent collect every one or two Pools, 1-2.5 ms each, and
 * each child forked after a collection took ~60 more faults (#23).
 */
const spare: Mapping[] = [];
/** At most this many reservations are kept, the latest: a few Pools' or Queues' worth. */
const SPARE_MAX = 8;

/** Maps the first `size` bytes of file descriptor `fd` read-write and shared. */
export function mapSharedBytes(fd: number, size: number): Mapping {
  const at = spare.findIndex((m) => m.size === size);
  if (at >= 0) {
    const [window] = spare.splice(at, 1) as [Mapping];
    const fixed = libc.mmap(window.address, size, PROT_READ_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (fixed !== null && Number(fixed) === window.address) return { ...window };
    libc.munmap(window.address, size); // Not mapped there: the reservation goes, the file is mapped anywhere.
  }
  const address = libc.mmap(null, size, PROT_READ_WRITE, MAP_SHARED, fd, 0);
  if (address === null || Number(address) === -1) fail("mmap");
  return { address: Number(address), size, buffer: toArrayBuffer(address, 0, size) };
}

/** Maps all of file descriptor `fd` (a memfd) read-write and shared. */
export function mapShared(fd: number): Mapping {
  return mapSharedBytes(fd, fileStat(fd).size);
}

/**
 * Frees the memory behind `length` bytes at `offset` of a shared mapping
 * (MADV_REMOVE punches a hole in the file: the pages read as zeros again and
 * cost nothing until written). Offset and length must be page-aligned.
 */
export function releasePages(map: Mapping, offset: number, length: number): void {
  if (libc.madvise(map.address + offset, length, MADV_REMOVE) !== 0) fail("madvise(MADV_REMOVE)");
}

/**
 * An ArrayBuffer over `length` bytes at `address`, inside a mapping that
 * outlives it: collecting it frees nothing. Views of it keep it alive, which
 * views of the whole mapping's buffer would not tell.
 */
export function bufferAt(address: number, length: number): ArrayBuffer {
  return toArrayBuffer(address, 0, length);
}

/** Unmaps a mapping; no view of its buffer may be used afterwards. */
export function unmap(map: Pick<Mapping, "address" | "size">): void {
  libc.munmap(map.address, map.size);
}

/**
 * Unmaps a mapping of `mapSharedBytes` that only the library's own objects
 * viewed (a ring, a lane), keeping its address range reserved with no access
 * (a stray read faults, as after munmap) for the next mapping of its size.
 * Only the main thread keeps reservations: a worker realm's would outlive it.
 */
export function retire(map: Mapping): void {
  if (!Bun.isMainThread) {
    unmap(map);
    return;
  }
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
  const reserved = libc.mmap(map.address, map.size, PROT_NONE, flags, -1, 0);
  if (reserved === null || Number(reserved) !== map.address) {
    unmap(map);
    return;
  }
  // Only the range and its buffer: the caller's object may carry more (a Segment's descriptor).
  spare.push({ address: map.address, size: map.size, buffer: map.buffer });
  if (spare.length > SPARE_MAX) unmap(spare.shift()!);
}
