/**
 * A fork child as its parent sees it (Python: `popen_fork.Popen`): its pid,
 * a pidfd as sentinel, the end of a pipe that reads EOF when the child ends
 * (so an async join wakes at once without polling), reaping, signals, and
 * the supervisor that reports a child which never announced its start.
 */
import { writeSync } from "node:fs";
import type { ChildHandle } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import { hasStarted, releaseSlot, type StartSlot } from "./start-flags.ts";

/**
 * Descriptors the parent holds for its fork children. A new child inherits
 * them all and closes them first thing: they are its siblings', not its own.
 */
export const parentDescriptors = new Set<number>();

/**
 * How often a child is checked for a sleep that can never end (ms);
 * it is killed on the second check that finds it (see `#checkParked`).
 */
const PARKED_CHECK_MS = 1000;

/** Polling steps (ms) for a child that closed its exit pipe early, or for waits inside a fork child. */
const BACKOFF_MAX_MS = 50;

const finalizer = new FinalizationRegistry<number[]>((fds) => {
  for (const fd of fds) {
    parentDescriptors.delete(fd);
    native.closeFd(fd);
  }
});

function sleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** The part of a stream reader the exit watch uses. */
interface ExitReader {
  read(): Promise<{ done: boolean }>;
  cancel(): Promise<void>;
  readonly closed: Promise<unknown>;
}

/** The parent's handle on one fork child. */
export class ForkedChild implements ChildHandle {
  readonly pid: number;
  readonly sentinel: number;
  readonly #name: string;
  /** Read end of the exit pipe: EOF once the child (and so its only write end) is gone. */
  #pipe: number;
  #slot: StartSlot | undefined;
  readonly #startDeadline: number;
  readonly #startTimeout: number;
  #supervisor: ReturnType<typeof setTimeout> | undefined;
  #parkedWatch: ReturnType<typeof setInterval> | undefined;
  /** The last check found the child parked for good. */
  #parkedSeen = false;
  #code: number | null = null;
  #closed = false;
  #watch: Promise<void> | undefined;
  #reader: ExitReader | undefined;
  #pipeEnded = false;
  #waiters = 0;

  constructor(opts: {
    pid: number;
    pidfd: number;
    pipe: number;
    slot: StartSlot;
    name: string;
    startTimeout: number;
    /** When fork(2) returned (performance.now()); the start deadline counts from there. */
    forkedAt: number;
  }) {
    this.pid = opts.pid;
    this.sentinel = opts.pidfd;
    this.#pipe = opts.pipe;
    this.#slot = opts.slot;
    this.#name = opts.name;
    this.#startTimeout = opts.startTimeout;
    this.#startDeadline = opts.forkedAt + opts.startTimeout;
    parentDescriptors.add(opts.pidfd);
    parentDescriptors.add(opts.pipe);
    finalizer.register(this, [opts.pidfd, opts.pipe], this);
    // Supervise even when nobody joins: an unref'd check at the deadline.
    this.#supervisor = setTimeout(() => this.#supervise(), this.#startDeadline - performance.now() + 1);
    this.#supervisor.unref?.();
    this.#parkedWatch = setInterval(() => this.#checkParked(), PARKED_CHECK_MS);
    this.#parkedWatch.unref?.();
  }

  poll(): number | null {
    if (this.#code !== null || this.#closed) return this.#code;
    const code = native.reapChild(this.sentinel);
    if (code !== null) this.#ended(code);
    return this.#code;
  }

  #ended(code: number): void {
    this.#code = code;
    clearTimeout(this.#supervisor);
    clearInterval(this.#parkedWatch);
    if (this.#slot !== undefined) releaseSlot(this.#slot);
    this.#slot = undefined;
    if (this.#reader === undefined) this.#closePipe();
  }

  #closePipe(): void {
    if (this.#pipe < 0) return;
    parentDescriptors.delete(this.#pipe);
    native.closeFd(this.#pipe);
    this.#pipe = -1;
    finalizer.unregister(this);
    if (!this.#closed) finalizer.register(this, [this.sentinel], this);
  }

  /** Whether the start deadline still matters: running, not yet announced, not yet reported. */
  #unannounced(): boolean {
    return this.#code === null && this.#slot !== undefined && !hasStarted(this.#slot);
  }

  /** Reports and kills a child that did not announce its start in time. */
  #supervise(): void {
    if (this.poll() !== null || !this.#unannounced() || performance.now() < this.#startDeadline) return;
    this.#slot = undefined; // report once
    writeSync(
      2,
      `multiproc: fork child ${this.#name} (pid ${this.pid}) did not report that it started within ${this.#startTimeout} ms; ` +
        "killing it (exitCode -9). A fork child that hangs on its way in is stuck on a lock or helper thread it inherited " +
        "from the parent: see the Hangs section of docs/fork.md in multiproc.\n",
    );
    this.signal(9);
  }

  /**
   * A child that sleeps on a lock of the runtime with no timeout
   * (the residual hang of docs/fork.md, or Atomics.wait with no timeout) has
   * no thread that could ever wake it: reported and killed, on two checks in
   * a row, so that nobody (a Pool above all) waits on it forever.
   */
  #checkParked(): void {
    if (this.poll() !== null) return;
    if (!native.parkedForever(this.pid)) {
      this.#parkedSeen = false;
      return;
    }
    if (!this.#parkedSeen) {
      this.#parkedSeen = true;
      return;
    }
    clearInterval(this.#parkedWatch);
    writeSync(
      2,
      `multiproc: fork child ${this.#name} (pid ${this.pid}) sleeps on a runtime lock with no timeout, which nothing ` +
        "can end in a fork child (a lock whose holder was a thread of the parent, or Atomics.wait without a timeout); " +
        "killing it (exitCode -9). See the Hangs section of docs/fork.md in multiproc.\n",
    );
    this.signal(9);
  }

  waitSync(timeoutMs: number | undefined): number | null {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (;;) {
      if (this.poll() !== null || this.#closed) return this.#code;
      const now = performance.now();
      if (now >= deadline) return null;
      let slice = deadline - now;
      if (this.#unannounced()) {
        this.#supervise();
        slice = Math.min(slice, Math.max(0, this.#startDeadline - now) + 1);
      }
      native.pollReadable(this.sentinel, Number.isFinite(slice) ? slice : undefined);
    }
  }

  /** Resolves when the exit pipe reads EOF (or its reading was cancelled). */
  #watchExit(): Promise<void> {
    if (this.#watch !== undefined) return this.#watch;
    const reader: ExitReader = Bun.file(this.#pipe).stream().getReader();
    this.#reader = reader;
    const watch = this.#readToEnd(reader);
    this.#watch = watch;
    watch.finally(() => {
      if (this.#watch === watch) this.#watch = undefined;
    });
    return watch;
  }

  async #readToEnd(reader: ExitReader): Promise<void> {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) {
          if (this.#reader === reader) this.#pipeEnded = true;
          break;
        }
      }
    } catch {
      // A read error means the same as EOF here: fall back to polling.
      this.#pipeEnded = true;
    } finally {
      if (this.#reader === reader) this.#reader = undefined;
      if (this.#code !== null || this.#closed) this.#closePipe();
    }
  }

  async wait(timeoutMs: number | undefined): Promise<number | null> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    let backoff = 0;
    this.#waiters += 1;
    try {
      for (;;) {
        if (this.poll() !== null || this.#closed) return this.#code;
        const now = performance.now();
        if (now >= deadline) return null;
        let limit = deadline - now;
        if (this.#unannounced()) {
          this.#supervise();
          limit = Math.min(limit, Math.max(0, this.#startDeadline - now) + 1);
          if (this.poll() !== null) return this.#code;
        }
        // A fork child's async joins cannot use runtime streams (see `child-loop.ts`).
        if (this.#pipeEnded || native.inForkChild() || this.#pipe < 0) {
          // EOF came and the zombie is not reapable yet (a few µs), the child
          // closed its pipe itself, or we run in a fork child: poll with backoff.
          const step = sleep(Math.min(limit, backoff));
          await step.promise;
          backoff = Math.min(BACKOFF_MAX_MS, Math.max(1, backoff * 2));
          continue;
        }
        const timer = Number.isFinite(limit) ? sleep(limit) : undefined;
        await (timer === undefined ? this.#watchExit() : Promise.race([this.#watchExit(), timer.promise]));
        timer?.cancel();
      }
    } finally {
      this.#waiters -= 1;
      // Nobody waits any more: stop reading, so a pending read does not keep the parent's loop alive.
      if (this.#waiters === 0 && this.#reader !== undefined) {
        const reader = this.#reader;
        this.#reader = undefined;
        this.#watch = undefined;
        reader.cancel().catch(() => {});
        reader.closed.then(
          () => this.#code !== null && this.#closePipe(),
          () => this.#code !== null && this.#closePipe(),
        );
      }
    }
  }

  signal(signal: 9 | 15): void {
    if (this.poll() !== null || this.#closed) return;
    try {
      // The pid cannot be reused before we reap the child, so kill(pid) is safe here.
      process.kill(this.pid, signal);
    } catch {
      // It ended between the check and the signal.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#supervisor);
    finalizer.unregister(this);
    parentDescriptors.delete(this.sentinel);
    native.closeFd(this.sentinel);
    if (this.#reader === undefined) this.#closePipe();
  }
}
