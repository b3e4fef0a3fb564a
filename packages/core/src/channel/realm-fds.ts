/**
 * What the library objects of this realm own at the OS level: descriptors
 * (Connections, Queues), closed with the realm, and the queue rings it mapped.
 * Also the descriptors it was handed at start, kept until an object takes
 * them. A worker thread's descriptors and mappings belong to the whole
 * process and outlive the thread (a mapping also pins its ring's memory), so
 * a worker lists them in words its parent reads once the thread is gone.
 * Apart from `fd-transfer.ts` so that a worker child's start loads neither the
 * codec's encoder nor the channels.
 */
import { closeFd } from "../native/file.ts";
import type { Mapping } from "../native/pages.ts";

/**
 * Slots in shared words listing what this realm owns, for whoever cleans up
 * after its thread has ended. A slot is `width` words, all 0 while empty,
 * written only by this realm.
 */
class Mirror {
  readonly #view: Int32Array;
  readonly #start: number;
  readonly #slots: number;
  readonly #width: number;
  /** Slots free for reuse, below `#next`. */
  readonly #free: number[] = [];
  #next = 0;

  constructor(view: Int32Array, start: number, slots: number, width: number) {
    this.#view = view;
    this.#start = start;
    this.#slots = slots;
    this.#width = width;
  }

  /** Lists `words` (not all 0) in a free slot; -1 when every slot is taken. */
  add(words: readonly number[]): number {
    const slot = this.#free.pop() ?? (this.#next < this.#slots ? this.#next++ : -1);
    if (slot < 0) return slot;
    for (let i = 0; i < this.#width; i++) Atomics.store(this.#view, this.#start + slot * this.#width + i, words[i]!);
    return slot;
  }

  /** Empties `slot` (-1: nothing to do). */
  remove(slot: number): void {
    if (slot < 0) return;
    for (let i = 0; i < this.#width; i++) Atomics.store(this.#view, this.#start + slot * this.#width + i, 0);
    this.#free.push(slot);
  }
}

/** Descriptors owned by the library objects of this realm, each with its mirror slot (-1: none). */
const owned = new Map<number, number>();
/** Descriptors this child was handed at start (`{ h }` references), until taken. */
let inherited: number[] = [];
/** Where the owned descriptors are listed (`mirrorOwnedFds`), if anywhere; a slot holds the descriptor + 1. */
let fdMirror: Mirror | undefined;

/** Ring mappings this realm made, each with its mirror slot (-1: none). */
const mappings = new Map<Mapping, number>();
/** Where they are listed (`mirrorOwnedMappings`), if anywhere. */
let mapMirror: Mirror | undefined;
/** Words per listed mapping: the address and the size, each as its low and high 32 bits. */
const MAPPING_WIDTH = 4;
const HIGH = 2 ** 32;

/** Records that an object of this realm owns `fd` (closed with the realm if the object is not closed first). */
export function ownFd(fd: number): number {
  if (!owned.has(fd)) owned.set(fd, fdMirror?.add([fd + 1]) ?? -1);
  return fd;
}

/** Closes `fd`, which an object of this realm owned. */
export function closeOwnedFd(fd: number): void {
  release(fd, owned.get(fd));
  owned.delete(fd);
}

/** Empties `fd`'s mirror slot, then closes it: the words never name a number this realm no longer holds. */
function release(fd: number, slot: number | undefined): void {
  fdMirror?.remove(slot ?? -1);
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
  fdMirror = new Mirror(view, start, slots, 1);
  for (const fd of owned.keys()) owned.set(fd, fdMirror.add([fd + 1]));
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
  // The writer has ended: plain reads see its last words, and most slots are empty.
  for (let i = start; i < start + slots; i++) {
    if (view[i] === 0) continue;
    closeFd(Atomics.exchange(view, i, 0) - 1);
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

/** Records a ring mapping this realm made (until `unmapOwned`). */
export function ownMapping(map: Mapping): void {
  const words = [map.address % HIGH, Math.floor(map.address / HIGH), map.size % HIGH, Math.floor(map.size / HIGH)];
  mappings.set(map, mapMirror?.add(words) ?? -1);
}

/** pages.ts, loaded when something is unmapped: a worker child that maps nothing never needs it (each module costs its start). */
function pages(): typeof import("../native/pages.ts") {
  return require("../native/pages.ts") as typeof import("../native/pages.ts");
}

function unmap(map: Pick<Mapping, "address" | "size">): void {
  pages().unmap(map);
}

/** Unmaps a mapping recorded by `ownMapping` (its range kept for the next one, see `retire`); nothing of it may be used afterwards. */
export function unmapOwned(map: Mapping): void {
  mapMirror?.remove(mappings.get(map) ?? -1);
  mappings.delete(map);
  pages().retire(map);
}

/**
 * Lists this realm's ring mappings, from now on, in `slots` slots of 4 words
 * from `view[start]` (zeroed, written only by this realm). Unlike a
 * descriptor, a mapping cannot go when the realm exits: code that runs after
 * would crash the whole process on touching it. So whoever started the thread
 * unmaps what the words still list once the thread is gone
 * (`unmapMirrored`); without that, each ring a worker received would stay
 * mapped, and its memory allocated, for the life of the process.
 *
 * @example
 * mirrorOwnedMappings(control, Word.OWNED_MAPS, OWNED_MAP_SLOTS); // in the worker
 */
export function mirrorOwnedMappings(view: Int32Array, start: number, slots: number): void {
  mapMirror = new Mirror(view, start, slots, MAPPING_WIDTH);
  for (const map of mappings.keys()) ownMapping(map);
}

/**
 * Unmaps the mappings listed by `mirrorOwnedMappings` in a realm whose thread
 * has ended (never while it runs), and empties the words.
 *
 * @example
 * unmapMirrored(control, Word.OWNED_MAPS, OWNED_MAP_SLOTS); // in the parent, after the worker ended
 */
export function unmapMirrored(view: Int32Array, start: number, slots: number): void {
  for (let at = start; at < start + slots * MAPPING_WIDTH; at += MAPPING_WIDTH) {
    if (view[at] === 0 && view[at + 1] === 0) continue; // empty (the writer has ended: plain reads will do)
    const words = Array.from({ length: MAPPING_WIDTH }, (_, i) => Atomics.exchange(view, at + i, 0) >>> 0);
    unmap({ address: words[0]! + words[1]! * HIGH, size: words[2]! + words[3]! * HIGH });
  }
}

/**
 * Records the descriptors a child was handed at start, in `LaunchRequest.fds`
 * order (as the spawn entry received them), and makes them this realm's own
 * (`ownFd`): listed in the mirror, closed with the realm unless an object
 * takes one (and closes it itself). A worker's bootstrap imports the target's
 * module before it decodes the arguments that take them, which can be long
 * enough for a terminate() to end the thread first: listed, they are still
 * closed by its parent.
 */
export function setInheritedFds(fds: readonly number[]): void {
  inherited = [...fds];
  for (const fd of fds) ownFd(fd);
}

/** The table of descriptors handed at start; `fd-transfer.ts` marks entries as taken in place. */
export function inheritedFds(): number[] {
  return inherited;
}
