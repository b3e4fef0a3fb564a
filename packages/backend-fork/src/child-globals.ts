/**
 * What a fork child's JavaScript sees of the runtime, set up right after
 * fork: timers that run on the child's own loop (`child-loop.ts`), standard
 * output and error written synchronously (so nothing the child printed is
 * still buffered when it ends), and `process.exit` that ends the child
 * without returning to the runtime's loop.
 */
import { createRequire } from "node:module";
import { native } from "@multiproc/core/internal";
import type { ChildLoop } from "./child-loop.ts";
import { SIGNAL_EVENTS } from "./child-signals.ts";

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
  readonly timers: Record<string, unknown>;
  readonly promises: ReturnType<typeof promiseTimers>;
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly exit: typeof process.exit;
}

/**
 * In the parent, before a fork: the next child's timers, standard stream
 * writers and exit over `loop`. `finish(code)` ends the child (it is what
 * `process.exit` becomes).
 */
export function prepareChildGlobals(loop: ChildLoop, finish: (code: number) => never): ChildGlobals {
  return {
    loop,
    timers: {
      setTimeout: loop.setTimeout,
      setInterval: loop.setInterval,
      setImmediate: loop.setImmediate,
      clearTimeout: loop.clear,
      clearInterval: loop.clear,
      clearImmediate: loop.clear,
    },
    promises: promiseTimers(loop),
    stdout: syncWriter(1),
    stderr: syncWriter(2),
    exit: ((code?: number | string | null) => {
      const n = code === undefined || code === null ? Number(process.exitCode ?? 0) : Number(code);
      finish(Number.isInteger(n) ? n : 1);
    }) as typeof process.exit,
  };
}

/**
 * In the child, right after fork: installs its timers, standard streams and
 * exit (`prepareChildGlobals`). With `dry` (in the parent) it only compiles itself.
 */
export function installChildGlobals(own: ChildGlobals, dry: boolean): void {
  if (dry) return;
  const loop = own.loop;
  const g = globalThis as unknown as Record<string, unknown>;
  g.setTimeout = loop.setTimeout;
  g.setInterval = loop.setInterval;
  g.setImmediate = loop.setImmediate;
  g.clearTimeout = loop.clear;
  g.clearInterval = loop.clear;
  g.clearImmediate = loop.clear;
  (Bun as unknown as { sleep: ChildLoop["sleep"] }).sleep = loop.sleep;
  Object.assign(timersModule, own.timers);
  Object.assign(timersPromisesModule, own.promises);

  (process.stdout as unknown as { write: Writer }).write = own.stdout;
  (process.stderr as unknown as { write: Writer }).write = own.stderr;

  // The parent's exit and signal listeners are the parent's business (Python
  // runs no atexit handler in a fork child either); the child's own ones run.
  // Only where there are some: a write to the emitter is a page the child copies.
  for (const event of DROPPED_EVENTS) if (process.listenerCount(event) > 0) process.removeAllListeners(event);
  process.exitCode = 0;
  process.exit = own.exit;
}
