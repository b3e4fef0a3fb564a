/**
 * Async waits on descriptors without polling: `waitReadable(fds, ms)`
 * resolves once one of `fds` is readable (or hung up), so an async receive,
 * accept or `wait()` wakes within microseconds of its data, as a sync one
 * does, instead of re-checking with growing pauses (#20: a manager server
 * whose client paused 0.2 ms or more answered its next call 1.2-3.3 ms
 * later, CPython's in 40 µs).
 *
 * A thread of plain C (wake-on-readable.c) polls the descriptors of every
 * waiter of this realm, and bumps the table's WAKE word when one is
 * readable; the realm's futex waker (wake-on-change.ts) turns that into an
 * event-loop wake-up. The C thread then sleeps until the waiters have looked:
 * each change of the waiters, and each look, writes the table's eventfd. The
 * futex waker compiles and starts the C thread the first time a wait asks
 * (readable-watcher-start.ts); until it runs, and where it cannot (a fork
 * child, which has only the thread that forked; TinyCC failing),
 * `waitReadable` returns undefined and the caller polls.
 */
import { ptr } from "bun:ffi";
import { MAX_READABLE_FDS, ReadableWord as Word, readableTable as table, WatcherState } from "./_readable-layout.ts";
import { libc } from "./libc.ts";
import { waitAnyReadable } from "./poll.ts";
import { pokeWaker, waitForChange, wakerReady } from "./wake-on-change.ts";

interface Waiter {
  readonly fds: readonly number[];
}

const wakeAddress = ptr(table, Word.WAKE * 4);
const one = new BigUint64Array(new ArrayBuffer(8));
one[0] = 1n;
const onePtr = ptr(one);
const waiters = new Set<Waiter>();
/** The pid the thread runs in: a fork child has none, and must not write the parent's eventfd. */
const loadedIn = process.pid;

/** Whether the C thread runs for this realm; asks the futex waker to start it on first use. */
function running(): boolean {
  const state = Atomics.load(table, Word.STATE);
  if (state === WatcherState.RUNNING) return process.pid === loadedIn && table[Word.FAILED] === 0;
  if (state !== WatcherState.NONE || process.pid !== loadedIn || process.env.MULTIPROC_WATCH_READABLE === "0") {
    return false;
  }
  // Asked for only once the futex waker runs: it starts the C thread at its next look, which the poke makes now.
  if (wakerReady()) {
    Atomics.store(table, Word.STATE, WatcherState.REQUESTED);
    pokeWaker();
  }
  return false;
}

/** Writes the waiters' distinct descriptors into the table and re-arms the thread. */
function publish(): void {
  const distinct = new Set<number>();
  for (const w of waiters) for (const fd of w.fds) if (fd >= 0) distinct.add(fd);
  let i = 0;
  for (const fd of distinct) {
    if (i === MAX_READABLE_FDS) break;
    table[Word.FDS + i++] = fd;
  }
  Atomics.store(table, Word.COUNT, i);
  libc.write(table[Word.EVENTFD]!, onePtr, 8);
}

/**
 * Resolves true once one of `fds` is readable, hung up or closed (at once
 * when one already is), false after `timeoutMs`; undefined when this realm
 * cannot watch descriptors now (the caller should poll). Readable means the
 * kernel has bytes for it, not that a whole message is there: the caller
 * checks its own condition.
 */
export function waitReadable(fds: readonly number[], timeoutMs: number): Promise<boolean> | undefined {
  if (!running()) return undefined;
  if (waitAnyReadable(fds, 0)) return Promise.resolve(true);
  const deadline = performance.now() + timeoutMs;
  const first = watchOnce(fds, timeoutMs);
  return first === undefined ? undefined : untilOwnReadable(fds, first, deadline);
}

/** One wake-up of the thread (for any waiter's descriptor), or undefined when the futex waker cannot run. */
function watchOnce(fds: readonly number[], timeoutMs: number): Promise<boolean> | undefined {
  const waiter: Waiter = { fds };
  // Read before publishing: a wake-up for what the thread then sees moves it on.
  const seen = Atomics.load(table, Word.WAKE);
  waiters.add(waiter);
  publish();
  const change = waitForChange(wakeAddress, seen, timeoutMs);
  if (change === undefined) {
    waiters.delete(waiter);
    publish();
    return undefined;
  }
  return change.then((woken) => {
    // The thread waits for this look before it polls again.
    waiters.delete(waiter);
    publish();
    return woken;
  });
}

/** Waits on until one of `fds` itself is readable: a wake-up may be for another waiter's descriptor. */
async function untilOwnReadable(fds: readonly number[], first: Promise<boolean>, deadline: number): Promise<boolean> {
  let wake: Promise<boolean> | undefined = first;
  for (;;) {
    if (!(await wake)) return waitAnyReadable(fds, 0);
    if (waitAnyReadable(fds, 0)) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    wake = watchOnce(fds, left);
    // The futex waker stopped: the caller re-checks, and polls from its next wait on.
    if (wake === undefined) return true;
  }
}

/** The table's eventfd, for a fork child to close (its copy would wake the parent's thread). */
export function readableWatchDescriptors(): number[] {
  return Atomics.load(table, Word.STATE) === WatcherState.RUNNING ? [table[Word.EVENTFD]!] : [];
}
