/**
 * A worker child as its parent sees it: the Worker, made and prepared
 * (`prepareWorker`) before it has a child to run, and given one by `begin`.
 * A join ends when the worker stores ENDED (control.ts), or its thread is
 * gone (its pidfd, or the "close" event), whichever comes first: `joinSync`
 * sleeps on the ENDED futex, needs no event loop and works inside a process
 * "exit" handler; `join` awaits ENDED with `Atomics.waitAsync`.
 */
import type { ChildHandle } from "@multiproc/core";
import { arenaRoot, closeMirroredFds, native, type SpareChild, unmapMirrored } from "@multiproc/core/internal";
import type { PrepareMessage, WorkerStartMessage } from "@multiproc/core/protocol/control";
import { newControlBlock, NO_CODE, OWNED_FD_SLOTS, OWNED_MAP_SLOTS, OWNED_MAPS, State, Word } from "./control.ts";
import { holdsLine, type LineHolder, newSupervisorLine } from "./supervisor.ts";
import { stopWorker } from "./stop-worker.ts";
import { waitTimer } from "./wait-timer.ts";

const ENTRY = new URL("./entry.ts", import.meta.url).href;
/** Longest sleep between two looks at STATE while a worker starts (ms). */
const STARTING_SLICE_MS = 50;
/**
 * Longest sleep on ENDED before `waitSync` looks at the thread's pidfd: a
 * worker that crashes outside JavaScript never stores ENDED, and one sleep
 * cannot wait on both. Bounds how late such an end is seen (a worker we
 * stopped is waited for on its pidfd alone).
 */
const ENDED_SLICE_MS = 50;

/** Makes a Worker running `entry.ts` and sends it what it needs to load core; it has no child to run yet. */
export function prepareWorker(): WorkerChild {
  const control = newControlBlock();
  const worker = new Worker(ENTRY);
  const supervisor = newSupervisorLine();
  const message: PrepareMessage = { control, arena: arenaRoot(), supervisor };
  worker.postMessage(message, [supervisor]);
  const child = new WorkerChild(worker, control);
  holdsLine(child);
  return child;
}

/** A worker thread, then the child it runs (`begin`). */
export class WorkerChild implements ChildHandle, SpareChild, LineHolder {
  /** Threads share the process id (API.md: the worker backend has no pid of its own). */
  readonly pid = process.pid;
  readonly #worker: Worker;
  readonly #control: Int32Array;
  /** Settles at the worker's "close" event. */
  readonly #closed: Promise<void>;
  /** The code of the "close" event, once it came (Bun's view; ours is in EXIT). */
  #closeCode: number | undefined;
  #code: number | null = null;
  /** The start message's descriptors: the parent's to close until the worker is RUNNING. */
  #fds: readonly number[] = [];
  /** Async joins in progress: the worker holds the event loop open while there is one. */
  #waiters = 0;
  #released = false;
  /** `close()` was called: the sentinel is closed once the thread is gone. */
  #closeWanted = false;
  /** Let go without a child (`dismiss`): whatever it still holds is closed when its thread is gone. */
  #dismissed = false;

  constructor(worker: Worker, control: Int32Array) {
    this.#worker = worker;
    this.#control = control;
    // Like Python, the parent does not wait for children just because they
    // exist: the exit hook joins them. `wait` refs the worker while someone awaits.
    worker.unref();
    this.#closed = new Promise((resolve) => {
      worker.addEventListener(
        "close",
        (event) => {
          this.#closeCode = (event as Event & { code?: number }).code ?? 1;
          this.#releaseOrphans();
          if (this.#dismissed || this.#closeWanted) this.close();
          resolve();
        },
        { once: true },
      );
    });
    // An uncaught error already printed its stack in the worker, which exits
    // with 1; without a listener it would also be raised in this thread.
    worker.addEventListener("error", (event) => event.preventDefault());
  }

  /** Gives the worker its child: the bootstrap bytes and the worker's own copies of the descriptors. */
  begin(bootstrap: Uint8Array, fds: number[]): void {
    this.#fds = fds;
    const message: WorkerStartMessage = { bootstrap, fds, env: { ...process.env } as Record<string, string> };
    this.#worker.postMessage(message);
  }

  /** Settles once the worker's thread has ended (its "close" event). */
  get ended(): Promise<void> {
    return this.#closed;
  }

  /** Whether the worker can no longer ask the supervisor for a Worker: its program ended, or it was let go. */
  get lineDone(): boolean {
    return this.#dismissed || this.#closeCode !== undefined || Atomics.load(this.#control, Word.ENDED) === 1;
  }

  /** Whether the worker may still be given a child: it has not failed to load core, nor ended. */
  get usable(): boolean {
    const state = Atomics.load(this.#control, Word.STATE);
    return this.#closeCode === undefined && (state === State.STARTING || state === State.READY);
  }

  /**
   * Ends a worker that was never given a child, and waits (at most
   * `timeoutMs`) until its thread is gone.
   */
  dismiss(timeoutMs: number): void {
    this.#dismissed = true;
    const deadline = performance.now() + timeoutMs;
    const hasSentinel = this.#awaitSentinel(deadline);
    this.#worker.terminate();
    if (!hasSentinel) return; // the "close" event closes a sentinel published late
    native.pollReadable(Atomics.load(this.#control, Word.SENTINEL), Math.max(0, deadline - performance.now()));
    this.close();
  }

  /** A fork child never has a copy of a Worker to let go of: the spare is ended before each fork. */
  forget(): void {}

  /** The worker thread's pidfd; blocks until the worker has published it (it does so first thing). */
  get sentinel(): number | undefined {
    return this.#awaitSentinel(undefined) ? Atomics.load(this.#control, Word.SENTINEL) : undefined;
  }

  poll(): number | null {
    if (this.#code !== null) return this.#code;
    let gone = this.#closeCode !== undefined;
    if (!gone) {
      const state = Atomics.load(this.#control, Word.STATE);
      if (state === State.STARTING || state === State.READY) return null;
      gone = state !== State.RUNNING || this.#threadGone();
      if (!gone && Atomics.load(this.#control, Word.ENDED) === 0) return null;
    }
    const code = Atomics.load(this.#control, Word.EXIT);
    // No code at all: the thread ended without running "exit" handlers, as only a crash does.
    this.#code = code !== NO_CODE ? code : (this.#closeCode ?? 1);
    // Ended but not gone: the thread still tears its realm down, and the "close" event releases them.
    if (gone) this.#releaseOrphans();
    return this.#code;
  }

  /** Whether the worker's thread has ended (its pidfd is readable). */
  #threadGone(): boolean {
    return native.pollReadable(Atomics.load(this.#control, Word.SENTINEL), 0);
  }

  /**
   * Closes the descriptors the ended worker still owned (listed in OWNED_FDS):
   * one ended by terminate() could not close them itself, and the start
   * message's, if it ended before taking them. Unmaps its rings (OWNED_MAPS),
   * which no worker can unmap itself. Only once its thread is gone: until
   * then it may still use them.
   */
  #releaseOrphans(): void {
    if (Atomics.load(this.#control, Word.STATE) !== State.RUNNING) for (const fd of this.#fds) native.closeFd(fd);
    this.#fds = [];
    closeMirroredFds(this.#control, Word.OWNED_FDS, OWNED_FD_SLOTS);
    unmapMirrored(this.#control, OWNED_MAPS, OWNED_MAP_SLOTS);
  }

  waitSync(timeoutMs: number | undefined): number | null {
    if (this.poll() !== null) return this.#code;
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    if (!this.#awaitSentinel(deadline)) return this.poll();
    const ended = native.addressOf(this.#control, Word.ENDED);
    while (this.poll() === null) {
      const remaining = deadline === undefined ? undefined : deadline - performance.now();
      if (remaining !== undefined && remaining <= 0) break;
      if (Atomics.load(this.#control, Word.STOP) !== 0) {
        // Stopped by us: it never stores ENDED, and its end is its thread's.
        native.pollReadable(Atomics.load(this.#control, Word.SENTINEL), remaining);
        continue;
      }
      // The worker stores ENDED, then wakes: a store before this call makes it return at once.
      native.futexWait(ended, 0, Math.min(ENDED_SLICE_MS, remaining ?? ENDED_SLICE_MS));
    }
    return this.#code;
  }

  async wait(timeoutMs: number | undefined): Promise<number | null> {
    if (this.poll() !== null) return this.#code;
    if (this.#waiters++ === 0) this.#worker.ref();
    const timer = waitTimer(timeoutMs);
    const c = this.#control;
    try {
      while (this.poll() === null && !timer.timedOut()) {
        // ENDED stored before this call: "not-equal" at once. A wake may be
        // another join's notify below: the loop then looks again.
        await Promise.race([this.#closed, Atomics.waitAsync(c, Word.ENDED, 0).value, timer.expired]);
      }
    } finally {
      timer.cancel();
      // Settles our waitAsync if it is still pending (the thread closed, or the time ran out).
      Atomics.notify(c, Word.ENDED);
      if (--this.#waiters === 0) this.#worker.unref();
    }
    return this.#code;
  }

  signal(signal: 9 | 15): void {
    if (this.poll() !== null) return; // Already ended: nothing to stop (Python tolerates this too).
    stopWorker(this.#control, signal, () => this.#worker.terminate());
  }

  close(): void {
    if (this.#released) return;
    if (!hasSentinel(Atomics.load(this.#control, Word.STATE))) return; // none (yet)
    // Joined at ENDED, its thread may still be on its way out: the sentinel
    // stays open until it is gone (the "close" event closes it), for `awaitThreadEnd`.
    this.#closeWanted = true;
    if (this.#closeCode === undefined && !this.#threadGone()) return;
    this.#released = true;
    native.closeFd(Atomics.load(this.#control, Word.SENTINEL));
  }

  /** Before a fork: a child joined at ENDED whose thread still tears down is waited for (at most `timeoutMs`). */
  awaitThreadEnd(timeoutMs: number): void {
    if (this.#released || this.#closeCode !== undefined || Atomics.load(this.#control, Word.ENDED) === 0) return;
    native.pollReadable(Atomics.load(this.#control, Word.SENTINEL), timeoutMs);
  }

  /**
   * Blocks until the worker published its sentinel (true), or failed to load
   * core, closed, or `deadline` passed (false).
   */
  #awaitSentinel(deadline: number | undefined): boolean {
    const c = this.#control;
    const address = native.addressOf(c, Word.STATE);
    while (Atomics.load(c, Word.STATE) === State.STARTING) {
      if (this.#closeCode !== undefined) return false;
      const left =
        deadline === undefined ? STARTING_SLICE_MS : Math.min(STARTING_SLICE_MS, deadline - performance.now());
      if (left <= 0) return false;
      // The worker stores READY, then wakes: a store before this call makes
      // it return at once. A worker that fails stores FAILED without a wake
      // (it has no native layer then): the slice bounds how late we see it.
      native.futexWait(address, State.STARTING, left);
    }
    return hasSentinel(Atomics.load(c, Word.STATE));
  }
}

/** Whether a worker in `state` has published its sentinel. */
function hasSentinel(state: number): boolean {
  return state === State.READY || state === State.RUNNING;
}
