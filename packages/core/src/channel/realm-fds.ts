/**
 * The descriptors of this realm: those its library objects own (Connections,
 * Queues), closed with the realm, and those it was handed at start, kept
 * until an object takes them. Apart from `fd-transfer.ts` so that a worker
 * child's start loads neither the codec's encoder nor the channels.
 */
import { closeFd } from "../native/file.ts";

/** Descriptors owned by the library objects of this realm, each with its mirror slot (-1: none). */
const owned = new Map<number, number>();
/** Descriptors this child was handed at start (`{ h }` references), until taken. */
let inherited: number[] = [];

/** Shared words listing the owned descriptors (see `mirrorOwnedFds`), if any. */
let mirror: { view: Int32Array; start: number; slots: number } | undefined;
/** Mirror slots free for reuse, below `nextSlot`. */
const freeSlots: number[] = [];
let nextSlot = 0;

/** A mirror word: 0 for an empty slot, else the descriptor + 1 (so a zeroed block is empty). */
const EMPTY = 0;

/** Records that an object of this realm owns `fd` (closed with the realm if the object is not closed first). */
export function ownFd(fd: number): number {
  if (!owned.has(fd)) owned.set(fd, mirrorAdd(fd));
  return fd;
}

/** Closes `fd`, which an object of this realm owned. */
export function closeOwnedFd(fd: number): void {
  release(fd, owned.get(fd));
  owned.delete(fd);
}

function mirrorAdd(fd: number): number {
  if (mirror === undefined) return -1;
  const slot = freeSlots.pop() ?? (nextSlot < mirror.slots ? nextSlot++ : -1);
  if (slot >= 0) Atomics.store(mirror.view, mirror.start + slot, fd + 1);
  return slot;
}

/** Empties `fd`'s mirror slot, then closes it: the words never name a number this realm no longer holds. */
function release(fd: number, slot: number | undefined): void {
  if (mirror !== undefined && slot !== undefined && slot >= 0) {
    Atomics.store(mirror.view, mirror.start + slot, EMPTY);
    freeSlots.push(slot);
  }
  closeFd(fd);
}

/**
 * Lists this realm's owned descriptors, from now on, in shared words
 * `view[start]` .. `view[start + slots - 1]` (zeroed, and written only by
 * this realm). A worker thread ended by `worker.terminate()` runs no more
 * JavaScript and so cannot close what its objects own; whoever started it
 * closes what the words still list once the thread is gone
 * (`closeMirroredFds`). Descriptors beyond `slots` at a time are not listed.
 *
 * @param view Words shared with the thread that will close the descriptors.
 * @example
 * mirrorOwnedFds(control, Word.OWNED_FDS, OWNED_FD_SLOTS); // in the worker
 */
export function mirrorOwnedFds(view: Int32Array, start: number, slots: number): void {
  mirror = { view, start, slots };
  freeSlots.length = 0;
  nextSlot = 0;
  for (const fd of owned.keys()) owned.set(fd, mirrorAdd(fd));
}

/**
 * Closes the descriptors listed in words written by `mirrorOwnedFds` in a
 * realm whose thread has ended (never while it runs: it may still use them),
 * and empties the words.
 *
 * @example
 * closeMirroredFds(control, Word.OWNED_FDS, OWNED_FD_SLOTS); // in the parent, after the worker ended
 */
export function closeMirroredFds(view: Int32Array, start: number, slots: number): void {
  for (let i = start; i < start + slots; i++) {
    const word = Atomics.exchange(view, i, EMPTY);
    if (word !== EMPTY) closeFd(word - 1);
  }
}

/**
 * Closes every descriptor still owned by this realm's objects. A worker
 * thread's descriptors belong to the whole process, so unlike a process's
 * they do not close when the thread ends: without this, the other end of a
 * Connection a worker held would never see end-of-stream. Called when a
 * worker realm exits (and by the worker backend when it stops one).
 */
export function closeOwnedFds(): void {
  for (const [fd, slot] of owned) release(fd, slot);
  owned.clear();
}

// Bun.isMainThread, not node:worker_threads: importing that costs a worker ~5 ms.
if (!Bun.isMainThread) process.on("exit", closeOwnedFds);

/**
 * Records the descriptors a child was handed at start, in `LaunchRequest.fds`
 * order (the spawn entry passes 4, 5, ...). Descriptors not taken by the end
 * of the bootstrap stay open: a backend may close them then.
 */
export function setInheritedFds(fds: readonly number[]): void {
  inherited = [...fds];
}

/** The table of descriptors handed at start; `fd-transfer.ts` marks entries as taken in place. */
export function inheritedFds(): number[] {
  return inherited;
}
