/**
 * "I have started" flags: one shared 32-bit word per fork child, set by the
 * child right before it runs its target, read by the parent's supervisor to
 * tell a child that hangs on its way in from one that is merely busy. The
 * words live in memfd pages mapped MAP_SHARED, so a child, being a copy of
 * the parent, writes the very page the parent reads.
 */
import { native } from "@multiproc/core/internal";

/** Word values. WATCHED: pending, and the parent sleeps on the word (only then does the child wake it). */
const Flag = { PENDING: 0, STARTED: 1, WATCHED: 2 } as const;
const SLOTS_PER_PAGE = 1024;

interface Page {
  fd: number;
  words: Int32Array;
  address: number;
}

let pages: Page[] = [];
let free: number[] = [];
/**
 * The process the pages belong to. A fork child's copies are its parent's
 * (the child closed their descriptors at once: `slotDescriptors`): its own
 * children need new ones, made on its first `takeSlot`, so that a child that
 * forks nothing spends nothing on it. The mappings stay (the child still sets
 * its own flag through them).
 */
let pagesOwner = process.pid;

/** A slot: the page's words and the index in them. */
export interface StartSlot {
  readonly index: number;
  readonly words: Int32Array;
  readonly at: number;
  /** The word's address, for futex waits. */
  readonly address: number;
}

/** Takes a fresh slot, in the PENDING state. */
export function takeSlot(): StartSlot {
  if (pagesOwner !== process.pid) {
    pages = [];
    free = [];
    pagesOwner = process.pid;
  }
  let index = free.pop();
  if (index === undefined) {
    const segment = native.createSegment(SLOTS_PER_PAGE * 4, "multiproc-fork-started");
    const base = pages.length * SLOTS_PER_PAGE;
    pages.push({ fd: segment.fd, words: new Int32Array(segment.buffer), address: segment.address });
    for (let i = SLOTS_PER_PAGE - 1; i > 0; i--) free.push(base + i);
    index = base;
  }
  const page = pages[Math.floor(index / SLOTS_PER_PAGE)]!;
  const at = index % SLOTS_PER_PAGE;
  Atomics.store(page.words, at, Flag.PENDING);
  return { index, words: page.words, at, address: page.address + at * 4 };
}

/** Child side: announces that the child is about to run its target. */
export function markStarted(slot: StartSlot): void {
  // A system call only when the parent waits: it does so only without the JSC settings.
  if (Atomics.exchange(slot.words, slot.at, Flag.STARTED) === Flag.WATCHED) native.futexWake(slot.address, 1);
}

/** How long a child parked for good (`native.parkedForever`) before its start counts as stuck (ms). */
const STUCK_MS = 30;

/**
 * Parent side, right after fork: waits until the child announces its start.
 * "stuck": it is parked for good before that (a runtime lock whose holder
 * exists only in the parent); "ended": it ended first; "late": still
 * neither at `deadline` (a loaded machine; the supervisor takes over).
 */
export function waitStarted(
  slot: StartSlot,
  pid: number,
  pidfd: number,
  deadline: number,
): "started" | "stuck" | "ended" | "late" {
  let asleepSince = Number.POSITIVE_INFINITY;
  for (;;) {
    if (hasStarted(slot)) return "started";
    const now = performance.now();
    if (now >= deadline) return "late";
    Atomics.compareExchange(slot.words, slot.at, Flag.PENDING, Flag.WATCHED);
    native.futexWait(slot.address, Flag.WATCHED, Math.min(deadline - now, 10));
    if (hasStarted(slot)) return "started";
    if (native.pollReadable(pidfd, 0)) return "ended";
    if (!native.parkedForever(pid)) asleepSince = Number.POSITIVE_INFINITY;
    else if (asleepSince === Number.POSITIVE_INFINITY) asleepSince = performance.now();
    else if (performance.now() - asleepSince >= STUCK_MS) return "stuck";
  }
}

/** Parent side: whether the child announced its start. */
export function hasStarted(slot: StartSlot): boolean {
  return Atomics.load(slot.words, slot.at) === Flag.STARTED;
}

/** Returns a slot once its child has ended. */
export function releaseSlot(slot: StartSlot): void {
  free.push(slot.index);
}

/** The pages' descriptors: a new child closes them (see `pagesOwner`). */
export function slotDescriptors(): number[] {
  return pages.map((p) => p.fd);
}
