/**
 * The shared-memory arena: small blocks carved from 1 MiB memfd segments, so a
 * thousand Locks or Values cost one mapping and one descriptor, not a thousand.
 * A block travels to another process as a `BlockHandle` and is mapped there on
 * first use.
 *
 * Over 400 lines: allocating a block and attaching a received one share this
 * process's segment table, the realm root and its lock, and the record of
 * which holders a segment came from (`via`); split, each half would need the
 * other's module state.
 */
import { closeFd } from "../native/file.ts";
import { forkCount } from "../native/fork.ts";
import { refuseIfRemote } from "../codec/remote.ts";
import { PicklingError } from "../errors.ts";
import { fileStat } from "../native/file.ts";
import { adoptSegment, attachSegment, createSegment, mappedAt, type Segment } from "../native/memfd.ts";
import { bufferAt, unmap } from "../native/pages.ts";

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
  /**
   * Other processes holding the segment, as [pid, fd] pairs, tried in order
   * when `pid` has exited or closed it: those process `pid` got it from. So
   * a block a child passes on to its own child still maps once that child
   * ended, while the process that made it lives (as Python's named
   * semaphores outlive the process that passed them on).
   */
  via?: [number, number][];
}

/** Most holders a handle names in `via`. */
const VIA_MAX = 4;

/** A region of shared memory usable by every process and thread it is sent to. */
export class Block {
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
  /** The ArrayBuffer to make views of the block over: its segment's, or one of its own (see `allocate`). */
  readonly buffer: ArrayBuffer;
  /** Where in `buffer` the block starts. */
  readonly byteOffset: number;
  /** For a block whose memory may go once garbage (see `allocate`). */
  readonly #release: Releasable | undefined;

  constructor(segment: Segment, offset: number, length: number, release?: Releasable, buffer?: ArrayBuffer) {
    this.segment = segment;
    this.offset = offset;
    this.length = length;
    this.#release = release;
    this.buffer = buffer ?? segment.buffer;
    this.byteOffset = buffer === undefined ? offset : 0;
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
    refuseIfRemote("shared memory");
    if (this.#release !== undefined && !this.#release.kept) {
      // Another process or thread may map it at any time from now on: it stays for the life of the process.
      this.#release.kept = true;
      segments.set(this.segment.ino, this.segment);
    }
    const { fd, ino, size } = this.segment;
    const address = this.segment.address;
    const handle: BlockHandle = { pid: process.pid, fd, ino, size, offset: this.offset, length: this.length, address };
    const via = sources.get(ino);
    if (via !== undefined) handle.via = via;
    return handle;
  }
}

/** Segments this realm has mapped or adopted, by inode (never unmapped). */
const segments = new Map<number, Segment>();
/** The other processes holding each segment this realm got from a handle, by inode: its handles' `via`. */
const sources = new Map<number, [number, number][]>();

/**
 * What lets a block's memory go once it is garbage: only while no handle to
 * it was made (`kept` false), since then nothing but this realm can reach it
 * (see README, "Shared memory").
 */
interface Releasable {
  kept: boolean;
}

/**
 * A large block's own segment: unmapped and its descriptor closed once its
 * memory is garbage (no view of it is left). A fork child has its own
 * mapping and descriptor, which that does not touch. (Not the Segment
 * itself: that holds the buffer whose collection this waits for.)
 */
interface LargeSegment extends Releasable {
  readonly fd: number;
  readonly address: number;
  readonly size: number;
}

const largeFinalizer = new FinalizationRegistry<LargeSegment>((large) => {
  if (large.kept) return;
  unmap(large);
  closeFd(large.fd);
});

/**
 * Where small blocks are carved from, in words every realm (thread) of this
 * process shares: without it each Worker realm would open a segment of its
 * own for its first Lock, and that descriptor and 1 MiB would outlive the
 * worker (a handle names the segment by descriptor number, so nothing may
 * close it while the process lives). Plain fields are written and read only
 * under LOCK.
 */
const Root = {
  /** 0 free, 1 held (a spin lock: held for a bump, or a segment's creation). */
  LOCK: 0,
  /** The process that carves from `FD`: a fork child must not carve from its parent's segment (Python's heap checks the pid the same way). */
  OWNER: 1,
  /** Descriptor of the current segment, -1 for none. */
  FD: 2,
  /** Inode of the current segment (unsigned: read it with `>>> 0`). */
  INO: 3,
  SIZE: 4,
  USED: 5,
  /** Index of the Float64 word holding the segment's address. */
  ADDRESS64: 3,
  // Words 6 and 7 hold ADDRESS64.
  /** How many entries of `ATTACHED` are in use. */
  ATTACHED_COUNT: 8,
  /** First of `ATTACHED_MAX` entries of `ENTRY_WORDS` words: segments of other processes mapped here (see `attachOnce`). */
  ATTACHED: 10,
} as const;

/** An attached segment's entry: ino, fd, size, (pad), and the Float64 address (8-byte aligned). */
const ENTRY_WORDS = 6;
/** Segments of other processes shared by every realm; more are mapped by each realm that meets them. */
const ATTACHED_MAX = 64;
const ROOT_WORDS = Root.ATTACHED + ENTRY_WORDS * ATTACHED_MAX;

/** The global key under which a realm finds the shared words (a Worker entry sets it before core loads). */
const ROOT_KEY = Symbol.for("multiproc.arenaRoot");

function newRoot(): Int32Array {
  const root = new Int32Array(new SharedArrayBuffer(ROOT_WORDS * 4));
  root[Root.FD] = -1;
  return root;
}

const realm = globalThis as { [ROOT_KEY]?: Int32Array };
realm[ROOT_KEY] ??= newRoot();
const root = realm[ROOT_KEY];
const rootAddress = new Float64Array(root.buffer);

/**
 * The arena's shared words, for a Worker child of this realm: its entry
 * stores them as `globalThis[Symbol.for("multiproc.arenaRoot")]` before
 * loading core, so both realms carve from the same segments.
 */
export function arenaRoot(): Int32Array {
  claimAfterFork();
  return root;
}

/** In a fork child, forgets the parent's segment (and a lock another thread of the parent held). */
function claimAfterFork(): void {
  if (Atomics.load(root, Root.OWNER) === process.pid) return;
  // The parent's garbage blocks lie in segments the parent still carves from.
  freeBlocks = new Map();
  // A fork child has one thread, so nothing else uses the words yet.
  root[Root.FD] = -1;
  root[Root.ATTACHED_COUNT] = 0;
  Atomics.store(root, Root.LOCK, 0);
  Atomics.store(root, Root.OWNER, process.pid);
}

/**
 * A small block that its realm may hand out again once its `Block` is
 * garbage: while no handle to it was made (no other process or thread can
 * name it) and no fork happened since it was made (a fork child works on
 * the same shared memory through its copy of the objects).
 */
interface Reusable extends Releasable {
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
  readonly forks: number;
}

/** Garbage blocks of this realm, by length, to hand out again. */
let freeBlocks = new Map<number, Reusable[]>();
const smallFinalizer = new FinalizationRegistry<Reusable>((block) => {
  if (block.kept || block.forks !== forkCount() || Atomics.load(root, Root.OWNER) !== process.pid) return;
  const list = freeBlocks.get(block.length);
  if (list === undefined) freeBlocks.set(block.length, [block]);
  else list.push(block);
});

/** A block of `length` bytes from the free list, zero-filled, or undefined. */
function reused(length: number): Reusable | undefined {
  const old = freeBlocks.get(length)?.pop();
  if (old === undefined) return undefined;
  new Uint8Array(old.segment.buffer, old.offset, length).fill(0);
  return old;
}

/**
 * A Block over `at`, which goes back to the free list when the Block is
 * garbage, or with `viewed` when its own buffer is.
 */
function reusableBlock(at: Pick<Reusable, "segment" | "offset" | "length">, viewed: boolean): Block {
  const reuse: Reusable = {
    segment: at.segment,
    offset: at.offset,
    length: at.length,
    forks: forkCount(),
    kept: false,
  };
  const buffer = viewed ? bufferAt(at.segment.address + at.offset, at.length) : undefined;
  const block = new Block(at.segment, at.offset, at.length, reuse, buffer);
  smallFinalizer.register(buffer ?? block, reuse);
  return block;
}

/**
 * Allocates `bytes` zero-filled bytes of shared memory. With `reusable`, the
 * caller keeps the Block for as long as it uses the memory and gives out no
 * view of it: the block may then be handed out again once its Block is
 * garbage (see `Reusable`). With `viewed`, the Block gets an ArrayBuffer of
 * its own (`buffer`) and the caller gives out views of that buffer only: the
 * block may be handed out again once the buffer is garbage, that is once no
 * view (a subarray too) is left. Python's heap reuses blocks the same way, but
 * also after a handle was made, which is why it asks you to keep shared
 * objects alive in the parent; here that is never needed.
 */
export function allocate(bytes: number, opts?: { reusable?: boolean; viewed?: boolean }): Block {
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw new RangeError(`Shared block size must be a positive integer, got ${bytes}`);
  }
  const length = Math.ceil(bytes / ALIGN) * ALIGN;
  if (length > LARGE_BLOCK) {
    const own = createSegment(length);
    const large: LargeSegment = { fd: own.fd, address: own.address, size: own.size, kept: false };
    largeFinalizer.register(own.buffer, large);
    return new Block(own, 0, length, large);
  }
  claimAfterFork();
  const viewed = opts?.viewed === true;
  const reusable = viewed || opts?.reusable === true;
  if (reusable) {
    const old = reused(length);
    if (old !== undefined) return reusableBlock(old, viewed);
  }
  lockRoot();
  try {
    if (root[Root.FD]! < 0 || root[Root.USED]! + length > root[Root.SIZE]!) {
      const fresh = createSegment(SEGMENT_SIZE);
      segments.set(fresh.ino, fresh);
      root[Root.FD] = fresh.fd;
      root[Root.INO] = fresh.ino;
      root[Root.SIZE] = fresh.size;
      root[Root.USED] = 0;
      rootAddress[Root.ADDRESS64] = fresh.address;
    }
    const ino = root[Root.INO]! >>> 0; // an inode number is unsigned
    let segment = segments.get(ino);
    if (segment === undefined) {
      segment = adoptSegment(root[Root.FD]!, ino, root[Root.SIZE]!, rootAddress[Root.ADDRESS64]!);
      segments.set(ino, segment);
    }
    const offset = root[Root.USED]!;
    root[Root.USED] = offset + length;
    return reusable ? reusableBlock({ segment, offset, length }, viewed) : new Block(segment, offset, length);
  } finally {
    unlockRoot();
  }
}

function lockRoot(): void {
  while (Atomics.compareExchange(root, Root.LOCK, 0, 1) !== 0) Atomics.wait(root, Root.LOCK, 1, 1);
}

function unlockRoot(): void {
  Atomics.store(root, Root.LOCK, 0);
  Atomics.notify(root, Root.LOCK, 1);
}

/**
 * Maps a segment of another process once for the whole process: a realm
 * adopts the mapping another realm made. Otherwise every worker that met it
 * would keep a mapping and a descriptor of its own after it ended. Beyond
 * `ATTACHED_MAX` segments, each realm maps its own.
 */
function attachOnce(handle: BlockHandle): Segment {
  claimAfterFork();
  lockRoot();
  try {
    const count = root[Root.ATTACHED_COUNT]!;
    for (let i = 0; i < count; i++) {
      const at = Root.ATTACHED + i * ENTRY_WORDS;
      if (root[at]! >>> 0 === handle.ino) {
        return adoptSegment(root[at + 1]!, handle.ino, root[at + 2]!, rootAddress[(at + 4) / 2]!);
      }
    }
    const segment = attachFromAnyHolder(handle);
    if (count < ATTACHED_MAX) {
      const at = Root.ATTACHED + count * ENTRY_WORDS;
      root[at] = segment.ino;
      root[at + 1] = segment.fd;
      root[at + 2] = segment.size;
      rootAddress[(at + 4) / 2] = segment.address;
      root[Root.ATTACHED_COUNT] = count + 1;
    }
    return segment;
  } finally {
    unlockRoot();
  }
}

/** Maps the handle's segment through the first holder that still has it: `pid`, then `via`. */
function attachFromAnyHolder(handle: BlockHandle): Segment {
  let first: unknown;
  for (const [pid, fd] of [[handle.pid, handle.fd], ...(handle.via ?? [])] as const) {
    try {
      return attachSegment(pid, fd, handle.ino, handle.size);
    } catch (err) {
      first ??= err;
    }
  }
  const others = handle.via?.length ? ` (nor through processes ${handle.via.map(([pid]) => pid).join(", ")})` : "";
  throw new Error(`${(first as Error).message}${others}`, { cause: first });
}

/** Remembers where a segment came from, for the handles this realm makes of it. */
function noteSources(handle: BlockHandle): void {
  const holders = [[handle.pid, handle.fd] as [number, number], ...(handle.via ?? [])];
  const others = holders.filter(([pid]) => pid !== process.pid).slice(0, VIA_MAX);
  if (others.length > 0) sources.set(handle.ino, others);
}

/**
 * Maps (once per process) the block a handle names. A handle comes from
 * another process, so every number in it is checked against the segment
 * really mapped: a forged one is an error, never a view of other memory.
 * @param minBytes the fewest bytes the rebuilt object reads from the block
 * @throws PicklingError naming the handle's field that does not fit
 */
export function attach(handle: BlockHandle, minBytes = 1): Block {
  for (const field of ["pid", "fd", "ino", "size", "offset", "length"] as const) {
    const v = handle[field];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new PicklingError(
        `Shared block handle ${field} must be an integer >= 0, got ${String(v)}`,
        `block.${field}`,
      );
    }
  }
  checkVia(handle.via);
  let segment = segments.get(handle.ino);
  if (segment === undefined) {
    segment = sameProcess(handle)
      ? adoptSegment(handle.fd, handle.ino, handle.size, handle.address!)
      : attachOrFail(handle);
    segments.set(segment.ino, segment);
    noteSources(handle);
  }
  const { offset, length } = handle;
  if (offset % ALIGN !== 0 || offset + length > segment.size || length < minBytes) {
    throw new PicklingError(
      `Shared block handle names ${length} bytes at offset ${offset}: expected at least ${minBytes} bytes, ${ALIGN}-aligned, within the ${segment.size}-byte segment`,
      "block.offset",
    );
  }
  return new Block(segment, offset, length);
}

/** A handle's `via`, if any, must be at most VIA_MAX [pid, fd] pairs of integers >= 0. */
function checkVia(via: unknown): void {
  if (via === undefined) return;
  const pair = (p: unknown) =>
    Array.isArray(p) && p.length === 2 && p.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
  if (!Array.isArray(via) || via.length > VIA_MAX || !via.every(pair)) {
    throw new PicklingError(
      `Shared block handle via must be at most ${VIA_MAX} [pid, fd] pairs of integers >= 0, got ${String(JSON.stringify(via)).slice(0, 80)}`,
      "block.via",
    );
  }
}

/** Whether the handle's segment is mapped by another realm of this process where the handle says. */
function sameProcess(handle: BlockHandle): boolean {
  const { fd, ino, size, address } = handle;
  if (handle.pid !== process.pid || address === undefined || !Number.isSafeInteger(address)) return false;
  try {
    const stat = fileStat(fd);
    return stat.ino === ino && stat.size === size && mappedAt(address, size, ino);
  } catch {
    return false; // not an open descriptor here: map it the ordinary way, which reports why
  }
}

function attachOrFail(handle: BlockHandle): Segment {
  try {
    return attachOnce(handle);
  } catch (err) {
    throw new PicklingError(
      `Cannot map the shared block of process ${handle.pid}: ${(err as Error).message}`,
      "block.segment",
      { cause: err },
    );
  }
}

/** Descriptors of every segment this process holds (children inherit or reopen them). */
export function segmentFds(): number[] {
  return [...segments.values()].map((s) => s.fd);
}
