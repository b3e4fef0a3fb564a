/**
 * The shared-memory arena: small blocks carved from 1 MiB memfd segments, so a
 * thousand Locks or Values cost one mapping and one descriptor, not a thousand.
 * A block travels to another process as a `BlockHandle` and is mapped there on
 * first use.
 */
import { adoptSegment, attachSegment, createSegment, type Segment } from "../native/index.ts";

const SEGMENT_SIZE = 1 << 20;
/** Blocks larger than this get a segment of their own. */
const LARGE_BLOCK = SEGMENT_SIZE / 4;
/** 16 keeps every block aligned for Float64 and BigInt64 views and 32-bit futex words. */
const ALIGN = 16;

/** How a block is named to another process: which holder to open it from, and where in it. */
export interface BlockHandle {
  pid: number;
  fd: number;
  ino: number;
  size: number;
  offset: number;
  length: number;
  /** Where the segment is mapped in process `pid`: a thread of that process reuses the mapping. */
  address?: number;
}

/** A region of shared memory usable by every process and thread it is sent to. */
export class Block {
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;

  constructor(segment: Segment, offset: number, length: number) {
    this.segment = segment;
    this.offset = offset;
    this.length = length;
  }

  /** Address of the byte at `byteOffset` within the block (for futex calls). */
  address(byteOffset = 0): number {
    return this.segment.address + this.offset + byteOffset;
  }

  /** A view of `count` 32-bit words at the start of the block. */
  int32(count = this.length >> 2): Int32Array {
    return new Int32Array(this.segment.buffer, this.offset, count);
  }

  /** The handle another process needs to map this block. */
  handle(): BlockHandle {
    const { fd, ino, size } = this.segment;
    const address = this.segment.address;
    return { pid: process.pid, fd, ino, size, offset: this.offset, length: this.length, address };
  }
}

const segments = new Map<number, Segment>();
let current: Segment | undefined;
let used = 0;
/** The process that owns `current`: a fork child must not carve blocks from its parent's segment (Python's heap checks the pid the same way). */
let owner = process.pid;

/** Allocates `bytes` zero-filled bytes of shared memory. */
export function allocate(bytes: number): Block {
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw new RangeError(`Shared block size must be a positive integer, got ${bytes}`);
  }
  if (owner !== process.pid) {
    owner = process.pid;
    current = undefined;
  }
  const length = Math.ceil(bytes / ALIGN) * ALIGN;
  if (length > LARGE_BLOCK) {
    const own = createSegment(length);
    segments.set(own.ino, own);
    return new Block(own, 0, length);
  }
  if (current === undefined || used + length > current.size) {
    current = createSegment(SEGMENT_SIZE);
    segments.set(current.ino, current);
    used = 0;
  }
  const block = new Block(current, used, length);
  used += length;
  return block;
}

/** Maps (once per process) the block a handle names. */
export function attach(handle: BlockHandle): Block {
  let segment = segments.get(handle.ino);
  if (segment === undefined) {
    segment =
      handle.pid === process.pid && handle.address !== undefined
        ? adoptSegment(handle.fd, handle.ino, handle.size, handle.address)
        : attachSegment(handle.pid, handle.fd, handle.ino, handle.size);
    segments.set(segment.ino, segment);
  }
  return new Block(segment, handle.offset, handle.length);
}

/** Descriptors of every segment this process holds (children inherit or reopen them). */
export function segmentFds(): number[] {
  return [...segments.values()].map((s) => s.fd);
}
