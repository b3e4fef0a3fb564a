/**
 * Mapping a descriptor this process owns (a queue's ring, received as a
 * descriptor rather than opened by path), giving pages back, and unmapping.
 */
import { toArrayBuffer } from "bun:ffi";
import { fileStat } from "./file.ts";
import { fail, libc } from "./libc.ts";

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED = 0x01;
const MADV_REMOVE = 9;

/** A shared mapping of a whole file. */
export interface Mapping {
  readonly address: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
}

/** Maps the first `size` bytes of file descriptor `fd` read-write and shared. */
export function mapSharedBytes(fd: number, size: number): Mapping {
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
