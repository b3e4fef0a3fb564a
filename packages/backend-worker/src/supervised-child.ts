/**
 * A non-daemon worker child of a worker child, as its parent sees it (#18
 * point 4): the supervisor (supervisor.ts) makes and owns its Worker, so the
 * parent holds no Worker object, only the control block, and everything goes
 * through its words: STATE, SENTINEL, EXIT, ENDED and STOP as for a Worker of
 * its own (worker-child.ts), and GONE, which the supervisor stores at the
 * Worker's "close" event. A terminate() that needs `worker.terminate()` is a
 * message on the child's own `stop` port.
 */
import type { ChildHandle } from "@multiproc/core";
import { arenaRoot, native } from "@multiproc/core/internal";
import { NO_CODE, newControlBlock, State, Word } from "./control.ts";
import { askSupervisor } from "./supervisor.ts";
import { stopWorker } from "./stop-worker.ts";
import { waitTimer } from "./wait-timer.ts";

/** Longest sleep between two looks at the words while waiting synchronously (ms): a wait watches several. */
const SLICE_MS = 50;

/** A worker child whose Worker the supervisor owns. */
export class SupervisedChild implements ChildHandle {
  /** Threads share the process id (API.md: the worker backend has no pid of its own). */
  readonly pid = process.pid;
  readonly #control = newControlBlock();
  /** Asks the supervisor to terminate() the Worker. */
  readonly #stop: MessagePort;
  #code: number | null = null;
  #released = false;

  /** Has the supervisor make the Worker and give it `bootstrap` and `fds` (the worker's own copies). */
  constructor(bootstrap: Uint8Array, fds: number[]) {
    const { port1, port2 } = new MessageChannel();
    this.#stop = port1;
    const env = { ...process.env } as Record<string, string>;
    askSupervisor({ kind: "make", control: this.#control, arena: arenaRoot(), stop: port2, bootstrap, fds, env }, [
      port2,
    ]);
  }

  get sentinel(): number | undefined {
    return this.#awaitSentinel(undefined) ? Atomics.load(this.#control, Word.SENTINEL) : undefined;
  }

  poll(): number | null {
    if (this.#code !== null) return this.#code;
    const c = this.#control;
    if (Atomics.load(c, Word.GONE) === 0) {
      if (Atomics.load(c, Word.STATE) !== State.RUNNING) return null;
      const ended = Atomics.load(c, Word.ENDED) === 1;
      if (!ended && !native.pollReadable(Atomics.load(c, Word.SENTINEL), 0)) return null;
    }
    const code = Atomics.load(c, Word.EXIT);
    // No code at all: the thread ended without running "exit" handlers, as only a crash does.
    this.#code = code !== NO_CODE ? code : 1;
    return this.#code;
  }

  waitSync(timeoutMs: number | undefined): number | null {
    const c = this.#control;
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    while (this.poll() === null) {
      const left = deadline === undefined ? SLICE_MS : Math.min(SLICE_MS, deadline - performance.now());
      if (left <= 0) break;
      // Each word is stored before its wake: a store before the call makes it return at once.
      if (Atomics.load(c, Word.STATE) === State.STARTING) {
        native.futexWait(native.addressOf(c, Word.STATE), State.STARTING, left);
      } else if (Atomics.load(c, Word.STOP) !== 0) {
        native.futexWait(native.addressOf(c, Word.GONE), 0, left); // stopped: it never stores ENDED
      } else {
        native.futexWait(native.addressOf(c, Word.ENDED), 0, left);
      }
    }
    return this.#code;
  }

  async wait(timeoutMs: number | undefined): Promise<number | null> {
    const c = this.#control;
    const timer = waitTimer(timeoutMs);
    try {
      // Every end stores GONE at last (the supervisor, at the "close" event); one on its own, ENDED first.
      while (this.poll() === null && !timer.timedOut()) {
        await Promise.race([
          Atomics.waitAsync(c, Word.ENDED, 0).value,
          Atomics.waitAsync(c, Word.GONE, 0).value,
          timer.expired,
        ]);
      }
    } finally {
      timer.cancel();
      // Settles our waitAsyncs still pending; any other waiter only looks again.
      Atomics.notify(c, Word.ENDED);
      Atomics.notify(c, Word.GONE);
    }
    return this.#code;
  }

  signal(signal: 9 | 15): void {
    if (this.poll() !== null) return; // Already ended: nothing to stop (Python tolerates this too).
    // One running JavaScript is terminated by the supervisor, which owns its Worker.
    stopWorker(this.#control, signal, () => this.#stop.postMessage("terminate"));
  }

  close(): void {
    if (this.#released) return;
    const state = Atomics.load(this.#control, Word.STATE);
    if (state !== State.READY && state !== State.RUNNING) return; // no sentinel (yet)
    this.#released = true;
    this.#stop.close();
    native.closeFd(Atomics.load(this.#control, Word.SENTINEL));
  }

  /** Blocks until the worker published its sentinel (true), or failed, ended or `deadline` passed (false). */
  #awaitSentinel(deadline: number | undefined): boolean {
    const c = this.#control;
    while (Atomics.load(c, Word.STATE) === State.STARTING && Atomics.load(c, Word.GONE) === 0) {
      const left = deadline === undefined ? SLICE_MS : Math.min(SLICE_MS, deadline - performance.now());
      if (left <= 0) return false;
      native.futexWait(native.addressOf(c, Word.STATE), State.STARTING, left);
    }
    const state = Atomics.load(c, Word.STATE);
    return state === State.READY || state === State.RUNNING;
  }
}
