/**
 * "I have started" flags: one shared 32-bit word per fork child, set by the
 * child right before it runs its target, read by the parent's supervisor to
 * tell a child that hangs on its way in from one that is merely busy. The
 * words live in memfd pages mapped MAP_SHARED, so a child, being a copy of
 * the parent, writes the very page the parent reads.
 */
import { native } from "@multiproc/core/internal";

/** Word values. */
const Flag = { PENDING: 0, STARTED: 1 } as const;
const SLOTS_PER_PAGE = 1024;

interface Page {
  fd: number;
  words: Int32Array;
}

let pages: Page[] = [];
let free: number[] = [];

/** A slot: the page's words and the index in them. */
export interface StartSlot {
  readonly index: number;
  readonly words: Int32Array;
  readonly at: number;
}

/** Takes a fresh slot, in the PENDING state. */
export function takeSlot(): StartSlot {
  let index = free.pop();
  if (index === undefined) {
    const segment = native.createSegment(SLOTS_PER_PAGE * 4, "multiproc-fork-started");
    const base = pages.length * SLOTS_PER_PAGE;
    pages.push({ fd: segment.fd, words: new Int32Array(segment.buffer) });
    for (let i = SLOTS_PER_PAGE - 1; i > 0; i--) free.push(base + i);
    index = base;
  }
  const page = pages[Math.floor(index / SLOTS_PER_PAGE)]!;
  const at = index % SLOTS_PER_PAGE;
  Atomics.store(page.words, at, Flag.PENDING);
  return { index, words: page.words, at };
}

/** Child side: announces that the child is about to run its target. */
export function markStarted(slot: StartSlot): void {
  Atomics.store(slot.words, slot.at, Flag.STARTED);
}

/** Parent side: whether the child announced its start. */
export function hasStarted(slot: StartSlot): boolean {
  return Atomics.load(slot.words, slot.at) === Flag.STARTED;
}

/** Returns a slot once its child has ended. */
export function releaseSlot(slot: StartSlot): void {
  free.push(slot.index);
}

/**
 * In a just-forked child: the pages are the parent's, so the child's own
 * children must get new ones. The mappings stay (the child still sets its
 * own flag through them); only the descriptors are closed.
 */
export function forgetParentSlots(): void {
  for (const page of pages) native.closeQuietly(page.fd);
  pages = [];
  free = [];
}
