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
  /** The child's value for each of `SLOTS` below, in order. */
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

type Slot = readonly [Record<string, unknown>, string];

const TIMER_NAMES = ["setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate"];
/** Where a child's globals go, in the order of `ChildGlobals.values`. */
const SLOTS: readonly Slot[] = [
  ...TIMER_NAMES.map((k): Slot => [globalThis as unknown as Record<string, unknown>, k]),
  [Bun as unknown as Record<string, unknown>, "sleep"],
  ...TIMER_NAMES.map((k): Slot => [timersModule, k]),
  ...["setTimeout", "setImmediate", "setInterval", "scheduler"].map((k): Slot => [timersPromisesModule, k]),
  [process.stdout as unknown as Record<string, unknown>, "write"],
  [process.stderr as unknown as Record<string, unknown>, "write"],
  [process as unknown as Record<string, unknown>, "exit"],
];
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
const saved: unknown[] = SLOTS.map(() => undefined);

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
  for (let i = 0; i < SLOTS.length; i++) {
    const [obj, key] = SLOTS[i]!;
    saved[i] = obj[key];
    obj[key] = own.values[i];
  }
}

/** In the parent, right after fork(2) (or a failed one): its own globals again. */
export function restoreParentGlobals(): void {
  for (let i = 0; i < SLOTS.length; i++) {
    const [obj, key] = SLOTS[i]!;
    obj[key] = saved[i];
    saved[i] = undefined;
  }
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
