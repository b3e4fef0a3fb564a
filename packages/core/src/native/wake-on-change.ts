/**
 * Async waits on shared words without polling: `waitForChange` resolves when
 * a 32-bit word of shared memory no longer holds a value. A waker thread
 * (see waker-thread.ts) sleeps in futex_waitv(2) on all words watched in this
 * realm and posts to it when one changes, so an async waiter wakes within
 * microseconds of a futex wake, like a sync one, and the event loop never
 * blocks. Where the waker cannot run, the caller falls back to polling.
 */
import { ptr, read } from "bun:ffi";
import { readableTable } from "./_readable-layout.ts";
import { ADDRESSES_AT, MAX_WATCHED, TABLE_BYTES, type WakerStart, Word } from "./_waker-layout.ts";
import { futexWait, futexWake } from "./futex.ts";

interface Watch {
  readonly address: number;
  readonly expected: number;
  readonly resolve: (changed: boolean) => void;
}

const WAKER = new URL("./waker-thread.ts", import.meta.url).href;

const table = new Int32Array(new SharedArrayBuffer(TABLE_BYTES));
const addresses = new Float64Array(table.buffer, ADDRESSES_AT, MAX_WATCHED);
const controlAddress = ptr(table, Word.CONTROL * 4);
const watches = new Set<Watch>();
let waker: Worker | undefined;
/** "ready" once the waker answered; until then, and for good when it cannot run, callers poll. */
let state: "none" | "starting" | "ready" | "unsupported" = "none";
/** The pid this module was loaded in: a forked copy of the process cannot start threads. */
const loadedIn = process.pid;

/** Rewrites the shared table from `watches` (distinct words only) and wakes the waker to re-read it. */
function publish(): void {
  const distinct = new Map<string, Watch>();
  for (const w of watches) distinct.set(`${w.address}:${w.expected}`, w);
  let i = 0;
  for (const w of distinct.values()) {
    if (i === MAX_WATCHED) break; // more words than futex_waitv takes: those waiters time out and re-check
    addresses[i] = w.address;
    Atomics.store(table, Word.EXPECTED + i, w.expected);
    i++;
  }
  Atomics.store(table, Word.COUNT, i);
  pokeWaker();
}

/** Settles every watch whose word changed, then republishes (which also releases the waker). */
function check(): void {
  for (const w of watches) {
    if (read.i32(w.address, 0) !== w.expected) {
      watches.delete(w);
      w.resolve(true);
    }
  }
  publish();
}

/** Whether this realm's waker is running; starts it on first use (callers poll until it is ready). */
export function wakerReady(): boolean {
  if (state === "ready" || state === "starting" || state === "unsupported") return state === "ready";
  if (process.pid !== loadedIn) {
    // A fork child has only the thread that forked: a new Worker would never start.
    state = "unsupported";
    return false;
  }
  try {
    state = "starting";
    waker = new Worker(WAKER);
    waker.onmessage = (event: MessageEvent<string>) => {
      if (event.data === "ready") state = "ready";
      else if (event.data === "unsupported") {
        state = "unsupported";
        waker?.terminate();
        waker = undefined;
        for (const w of watches) w.resolve(true); // callers re-check, then poll
        watches.clear();
      } else check();
    };
    waker.postMessage({ words: table.buffer, readable: readableTable.buffer } satisfies WakerStart);
    waker.unref();
  } catch {
    state = "unsupported";
  }
  return false;
}

/**
 * Resolves true once the word at `address` differs from `expected` (at once
 * if it already does), false after `timeoutMs`; undefined when this realm has
 * no waker (the caller should poll instead). The timeout's timer is what keeps
 * the event loop alive meanwhile; the waker thread itself never does.
 */
export function waitForChange(address: number, expected: number, timeoutMs: number): Promise<boolean> | undefined {
  if (read.i32(address, 0) !== expected) return Promise.resolve(true);
  if (!wakerReady()) return undefined;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      if (watches.delete(watch)) {
        publish();
        resolve(false);
      }
    }, timeoutMs);
    const watch: Watch = {
      address,
      expected,
      resolve: (changed) => {
        clearTimeout(timer);
        resolve(changed);
      },
    };
    watches.add(watch);
    publish();
  });
}

/**
 * Makes the waker look at its tables at once (a changed table, a pause, or
 * wake-on-readable.ts asking it to start the readable watcher).
 */
export function pokeWaker(): void {
  Atomics.add(table, Word.CONTROL, 1);
  futexWake(controlAddress, 1);
}

/** Waits (at most until `until`) for a waker still starting up to reach its loop. */
function awaitWakerReady(until: number): void {
  const ready = ptr(table, Word.READY * 4);
  while (Atomics.load(table, Word.READY) === 0 && performance.now() < until) futexWait(ready, 0, 10);
}

/** Whether this realm's waker thread runs in this process (not in a fork child, which has only one thread). */
function wakerRunsHere(): boolean {
  return waker !== undefined && state !== "unsupported" && process.pid === loadedIn;
}

/** The kernel thread id of this realm's waker thread (0 when none runs here, as in a fork child). */
export function wakerThreadId(): number {
  if (!wakerRunsHere()) return 0;
  awaitWakerReady(performance.now() + 2000);
  return Atomics.load(table, Word.TID);
}

/**
 * Parks this process's waker thread in the kernel and returns the function
 * that lets it run again. A fork backend calls it around fork(2): a thread
 * caught running JavaScript at that moment may hold runtime locks that the
 * child, which only has the forking thread, would then wait for forever.
 * Does nothing when no waker runs here.
 */
export function pauseWaker(): () => void {
  if (!wakerRunsHere()) return () => undefined;
  const at = (word: number) => ptr(table, word * 4);
  const until = performance.now() + 2000;
  // A waker still starting up is the busiest: wait until it reaches its loop.
  awaitWakerReady(until);
  Atomics.store(table, Word.PAUSE, 1);
  pokeWaker();
  while (Atomics.load(table, Word.PAUSED) === 0 && performance.now() < until) futexWait(at(Word.PAUSED), 0, 10);
  return () => {
    Atomics.store(table, Word.PAUSE, 0);
    futexWake(at(Word.PAUSE), 1);
  };
}
