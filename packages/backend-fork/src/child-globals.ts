/**
 * What a fork child's JavaScript sees of the runtime, set up right after
 * fork: timers that run on the child's own loop (`child-loop.ts`), standard
 * output and error written synchronously (so nothing the child printed is
 * still buffered when it ends), and `process.exit` that ends the child
 * without returning to the runtime's loop.
 */
import { createRequire } from "node:module";
import { hasChildren, libraryExitListener, native } from "@multiproc/core/internal";
import type { ChildLoop } from "./child-loop.ts";
import { SIGNAL_EVENTS } from "./child-signals.ts";
import { onChildSignal } from "./forked-child.ts";

const require = createRequire(import.meta.url);
// Loaded here, in the parent: a child that had to load them itself would pay
// for it at every start (about 9 ms measured, all of a no-op child's time).
const timersModule = require("node:timers") as Record<string, unknown>;
const timersPromisesModule = require("node:timers/promises") as Record<string, unknown>;
// The same for the standard stream objects, which the runtime creates on first use (about 10 ms).
void process.stdout;
void process.stderr;

/** The parent's listeners a child drops. */
const DROPPED_EVENTS = ["exit", "beforeExit", ...SIGNAL_EVENTS] as const;

type Writer = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

function syncWriter(fd: number): Writer {
  return (chunk, encoding, callback) => {
    const done = typeof encoding === "function" ? encoding : callback;
    let bytes: Uint8Array;
    if (typeof chunk === "string")
      bytes = Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
    else if (chunk instanceof Uint8Array) bytes = chunk;
    else if (ArrayBuffer.isView(chunk)) bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else bytes = Buffer.from(String(chunk));
    let error: unknown = null;
    try {
      if (bytes.length > 0) native.writeAllSync(fd, bytes);
    } catch (e) {
      error = e;
    }
    if (typeof done === "function") (done as (e: unknown) => void)(error);
    return true;
  };
}

/** `node:timers/promises` on the child's loop. */
function promiseTimers(loop: ChildLoop) {
  const setTimeout = <T>(delay?: number, value?: T, opts?: { signal?: AbortSignal }): Promise<T | undefined> =>
    new Promise((resolve, reject) => {
      const signal = opts?.signal;
      if (signal?.aborted) return reject(signal.reason);
      const timer = loop.setTimeout(() => resolve(value), delay);
      signal?.addEventListener("abort", () => {
        timer.close();
        reject(signal.reason);
      });
    });
  const setImmediate = <T>(value?: T): Promise<T | undefined> =>
    new Promise((resolve) => {
      loop.setImmediate(() => resolve(value));
    });
  async function* setInterval<T>(delay?: number, value?: T): AsyncGenerator<T | undefined> {
    for (;;) {
      await setTimeout(delay);
      yield value;
    }
  }
  const scheduler = {
    wait: (delay: number, opts?: { signal?: AbortSignal }) => setTimeout(delay, undefined, opts),
    yield: () => setImmediate(),
  };
  return { setTimeout, setImmediate, setInterval, scheduler };
}

/** What a child installs, made in the parent by `prepareChildGlobals`. */
export interface ChildGlobals {
  readonly loop: ChildLoop;
  /** The child's value for each global `readGlobals` below reads, in its order. */
  readonly values: readonly unknown[];
}

/**
 * In the parent, before a fork: the next child's timers, standard stream
 * writers and exit over `loop`. `finish(code)` ends the child (it is what
 * `process.exit` becomes).
 */
export function prepareChildGlobals(loop: ChildLoop, finish: (code: number) => never): ChildGlobals {
  const timers = [loop.setTimeout, loop.setInterval, loop.setImmediate, loop.clear, loop.clear, loop.clear];
  const promises = promiseTimers(loop);
  const exit = ((code?: number | string | null) => {
    const n = code === undefined || code === null ? Number(process.exitCode ?? 0) : Number(code);
    finish(Number.isInteger(n) ? n : 1);
  }) as typeof process.exit;
  return {
    loop,
    values: [
      ...timers, // globalThis
      loop.sleep, // Bun
      ...timers, // node:timers
      promises.setTimeout,
      promises.setImmediate,
      promises.setInterval,
      promises.scheduler,
      syncWriter(1),
      syncWriter(2),
      exit,
    ],
  };
}

type Globals = Record<string, unknown>;
const onGlobal = globalThis as unknown as Globals;
const onBun = Bun as unknown as Globals;
const onStdout = process.stdout as unknown as Globals;
const onStderr = process.stderr as unknown as Globals;
const onProcess = process as unknown as Globals;

/** How many globals a child replaces: the length of `ChildGlobals.values`. */
const GLOBALS = 20;

/**
 * Reads the globals a child replaces into `into`, in the order of
 * `ChildGlobals.values`. One statement per global, not a loop over
 * (object, key) pairs: each store then has its own inline cache, where a
 * loop's one store took the runtime's generic path every time, pages it
 * wrote again before and after every fork (#23).
 */
function readGlobals(into: unknown[]): void {
  into[0] = onGlobal.setTimeout;
  into[1] = onGlobal.setInterval;
  into[2] = onGlobal.setImmediate;
  into[3] = onGlobal.clearTimeout;
  into[4] = onGlobal.clearInterval;
  into[5] = onGlobal.clearImmediate;
  into[6] = onBun.sleep;
  into[7] = timersModule.setTimeout;
  into[8] = timersModule.setInterval;
  into[9] = timersModule.setImmediate;
  into[10] = timersModule.clearTimeout;
  into[11] = timersModule.clearInterval;
  into[12] = timersModule.clearImmediate;
  into[13] = timersPromisesModule.setTimeout;
  into[14] = timersPromisesModule.setImmediate;
  into[15] = timersPromisesModule.setInterval;
  into[16] = timersPromisesModule.scheduler;
  into[17] = onStdout.write;
  into[18] = onStderr.write;
  into[19] = onProcess.exit;
}

/** Puts `values` (in the order of `ChildGlobals.values`) in place of the globals a child replaces. */
function writeGlobals(values: readonly unknown[]): void {
  onGlobal.setTimeout = values[0];
  onGlobal.setInterval = values[1];
  onGlobal.setImmediate = values[2];
  onGlobal.clearTimeout = values[3];
  onGlobal.clearInterval = values[4];
  onGlobal.clearImmediate = values[5];
  onBun.sleep = values[6];
  timersModule.setTimeout = values[7];
  timersModule.setInterval = values[8];
  timersModule.setImmediate = values[9];
  timersModule.clearTimeout = values[10];
  timersModule.clearInterval = values[11];
  timersModule.clearImmediate = values[12];
  timersPromisesModule.setTimeout = values[13];
  timersPromisesModule.setImmediate = values[14];
  timersPromisesModule.setInterval = values[15];
  timersPromisesModule.scheduler = values[16];
  onStdout.write = values[17];
  onStderr.write = values[18];
  onProcess.exit = values[19];
}

type Listener = (...args: unknown[]) => void;
/** The parent's listeners of DROPPED_EVENTS, as `swapInChildGlobals` found them right before the fork. */
const dropped: [string, Listener][] = [];
/**
 * The library's own exit listener, which the child keeps (core's
 * `libraryExitListener`: it joins the child's own children), is among the
 * parent's `exit` listeners (1) or not (0).
 */
let keptExitListeners = 0;
/** The parent's `process.exitCode` was set: a child's `process.exit()` must not take it. */
let resetExitCode = false;
/** The parent's own values while a fork is under way. */
const saved: unknown[] = new Array(GLOBALS).fill(undefined);

/**
 * In the parent, right before fork(2): puts the next child's globals in
 * place, so the child starts with them and writes none of these objects (each
 * write a page it would copy, on its way to the target: #23). Only
 * synchronous code of the fork runs until `restoreParentGlobals`, right after.
 */
export function swapInChildGlobals(own: ChildGlobals): void {
  // Looked at here, in the parent: the child then reads nothing of the emitter it has no reason to change.
  dropped.length = 0;
  keptExitListeners = 0;
  for (const event of DROPPED_EVENTS) {
    if (process.listenerCount(event) === 0) continue;
    for (const listener of process.listeners(event)) {
      if (listener === libraryExitListener) keptExitListeners++;
      // The awaited joins' SIGCHLD listener stays: it does nothing in a fork child (whose set-up gave SIGCHLD
      // its default action), and removing it would write the emitter, pages the child copies (#23).
      else if (listener !== onChildSignal) dropped.push([event, listener as Listener]);
    }
  }
  resetExitCode = Number(process.exitCode ?? 0) !== 0;
  readGlobals(saved);
  writeGlobals(own.values);
}

/** In the parent, right after fork(2) (or a failed one): its own globals again. */
export function restoreParentGlobals(): void {
  writeGlobals(saved);
  saved.fill(undefined);
}

/**
 * In the child, right after fork: what `swapInChildGlobals` could not do in
 * the parent. With `dry` (in the parent) it changes nothing.
 */
export function installChildGlobals(dry: boolean): void {
  // The parent's exit and signal listeners are the parent's business (Python
  // runs no atexit handler in a fork child either); the child's own ones run.
  // Only where there are some: a write to the emitter is a page the child copies.
  // Dry (in the parent): the same calls, for an event no one listens to.
  for (const [event, listener] of dry ? WARM_UP_LISTENERS : dropped) process.removeListener(event, listener);
  if (resetExitCode && !dry) process.exitCode = 0;
}

const WARM_UP_LISTENERS: [string, Listener][] = [["multiproc:warm-up", () => {}]];

/** Whether a child's exit has listeners to run: its own, or the library's while it has children. */
export function exitListenersToRun(): boolean {
  // hasChildren() first: the parent's dry run must call it too, or each child compiles it.
  return (hasChildren() && keptExitListeners > 0) || process.listenerCount("exit") > keptExitListeners;
}
