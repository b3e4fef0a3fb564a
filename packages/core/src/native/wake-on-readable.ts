/**
 * Async waits on descriptors without polling: `waitReadable(fds, ms)`
 * resolves once one of `fds` is readable (or hung up), so an async receive,
 * accept or `wait()` wakes within microseconds of its data, as a sync one
 * does, instead of re-checking with growing pauses (#20: a manager server
 * whose client paused 0.2 ms or more answered its next call 1.2-3.3 ms
 * later, CPython's in 40 µs).
 *
 * A thread of plain C (wake-on-readable.c, compiled once by bun:ffi's
 * TinyCC) polls the descriptors of every waiter of this process, and bumps a
 * word of the table when one is readable; the realm's futex waker
 * (wake-on-change.ts) turns that into an event-loop wake-up. The thread then
 * sleeps until the waiters have looked: each change of the waiters, and each
 * look, writes the table's eventfd. Where the thread or the futex waker
 * cannot run (a fork child, which has only the thread that forked; TinyCC
 * failing), `waitReadable` returns undefined and the caller polls.
 */
import { cc, ptr } from "bun:ffi";
import { closeFd } from "./file.ts";
import { libc } from "./libc.ts";
import { waitAnyReadable } from "./poll.ts";
import { waitForChange } from "./wake-on-change.ts";

/** Table words, as wake-on-readable.c reads them. */
const Word = { WAKE: 0, COUNT: 1, EVENTFD: 2, FAILED: 3, FDS: 4 } as const;
/** Distinct descriptors watched at once; waiters past it time out and re-check. */
const MAX_FDS = 1020;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

interface Waiter {
  readonly fds: readonly number[];
}

// Lives as long as the process: the thread reads it by address.
const table = new Int32Array(new SharedArrayBuffer((Word.FDS + MAX_FDS) * 4));
const wakeAddress = ptr(table, Word.WAKE * 4);
const one = new BigUint64Array(new ArrayBuffer(8));
one[0] = 1n;
const onePtr = ptr(one);
const waiters = new Set<Waiter>();
let state: "none" | "running" | "unsupported" = "none";
/** The pid the thread runs in: a fork child has none, and must not write the parent's eventfd. */
let runsIn = 0;
/** The compiled thread code, held for good: the thread runs in it, and a collected library is freed. */
// biome-ignore lint/correctness/noUnusedVariables: only held, never read
let compiled: unknown;

/** Starts the thread on first use; whether it runs in this process. */
function running(): boolean {
  if (state === "running") return runsIn === process.pid;
  if (state === "unsupported") return false;
  state = "unsupported";
  if (process.env.MULTIPROC_WATCH_READABLE === "0") return false;
  const efd = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return false;
  try {
    const lib = cc({
      // A path, not a URL's pathname: that one would keep a space in the path as %20.
      source: `${import.meta.dir}/wake-on-readable.c`,
      symbols: { mp_watch_readable: { args: ["ptr"], returns: "i32" } },
    });
    compiled = lib;
    table[Word.EVENTFD] = efd;
    if (lib.symbols.mp_watch_readable(ptr(table)) !== 0) throw new Error("pthread_create failed");
  } catch {
    closeFd(efd);
    return false;
  }
  state = "running";
  runsIn = process.pid;
  return true;
}

/** Writes the waiters' distinct descriptors into the table and re-arms the thread. */
function publish(): void {
  const distinct = new Set<number>();
  for (const w of waiters) for (const fd of w.fds) if (fd >= 0) distinct.add(fd);
  let i = 0;
  for (const fd of distinct) {
    if (i === MAX_FDS) break;
    table[Word.FDS + i++] = fd;
  }
  Atomics.store(table, Word.COUNT, i);
  libc.write(table[Word.EVENTFD]!, onePtr, 8);
}

/**
 * Resolves true once one of `fds` is readable, hung up or closed (at once
 * when one already is), false after `timeoutMs`; undefined when this process
 * cannot watch descriptors now (the caller should poll). Readable means the
 * kernel has bytes for it, not that a whole message is there: the caller
 * checks its own condition.
 */
export function waitReadable(fds: readonly number[], timeoutMs: number): Promise<boolean> | undefined {
  if (!running() || table[Word.FAILED] !== 0) return undefined;
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
  return state === "running" ? [table[Word.EVENTFD]!] : [];
}
