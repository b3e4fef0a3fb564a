/**
 * A fork child as its parent sees it (Python: `popen_fork.Popen`): its pid,
 * a pidfd as sentinel, reaping, signals, an async join that SIGCHLD wakes
 * at once without polling, and the supervisor that reports a child which
 * never announced its start.
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

/** The shortest time between two runs of the watch (ms), however the children's checks fall. */
const WATCH_STEP_MS = 50;

/** Polling steps (ms) for waits inside a fork child, whose own loop has no signal listeners of the runtime. */
const BACKOFF_MAX_MS = 50;

const finalizer = new FinalizationRegistry<number[]>((fds) => {
  for (const fd of fds) {
    parentDescriptors.delete(fd);
    native.closeFd(fd);
  }
});

/**
 * Async joins waiting for the next SIGCHLD: each entry ends one join's
 * current wait. (A pipe read through `Bun.file(fd).stream()` woke joins
 * before: the runtime reads through a dup of the descriptor and closes it
 * later on a thread of its own, so a joined and closed child could leave a
 * pipe open for milliseconds.)
 */
const childSignalWaiters = new Set<() => void>();

/** The awaited joins' SIGCHLD listener (a fork child keeps it: see child-globals.ts). */
export function onChildSignal(): void {
  // A fork child emits signals of its own (child-signals.ts) to the listeners it inherited: these joins are its parent's.
  if (native.inForkChild()) return;
  for (const wake of childSignalWaiters) wake();
  childSignalWaiters.clear();
}

/**
 * Listens for SIGCHLD from the first awaited join on, and stays: adding the
 * listener for each join and removing it after made the runtime install its
 * signal handler and take it away again every time, about 10 more page
 * faults of the parent a join (#23). The listener does not keep the event
 * loop alive, and any child's end only makes the waiting joins look at their own.
 */
function listenForChildSignals(): void {
  if (!process.listeners("SIGCHLD").includes(onChildSignal)) process.on("SIGCHLD", onChildSignal);
}

/**
 * How long an awaited join sleeps at most between two looks at its child
 * (ms): a SIGCHLD wakes it sooner; this bounds the wait should the signal
 * never come (a program that removed every SIGCHLD listener).
 */
const SIGNAL_WAIT_MAX_MS = 1000;

/**
 * The next wake of an awaited join: after `ms`, or at the next SIGCHLD when
 * `onSignal`. Made before the join looks at its child, so that a child
 * ending between that look and the wait cannot be missed. The timer also
 * keeps the event loop alive meanwhile: a signal listener does not.
 */
class NextWake {
  readonly promise: Promise<void>;
  readonly #wake: () => void;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #onSignal: boolean;

  constructor(ms: number, onSignal: boolean) {
    let wake = (): void => {};
    this.promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#wake = wake;
    this.#onSignal = onSignal;
    this.#timer = setTimeout(wake, Math.max(0, ms));
    if (onSignal) childSignalWaiters.add(wake);
  }

  cancel(): void {
    clearTimeout(this.#timer);
    if (this.#onSignal) childSignalWaiters.delete(this.#wake);
  }
}

/** Closes one of the descriptors the parent holds for a fork child (none: undefined). */
function closeOwn(fd: number | undefined): void {
  if (fd === undefined) return;
  parentDescriptors.delete(fd);
  native.closeFd(fd);
}

/**
 * One timer watches every running fork child of this process: the start
 * deadline of those not announced yet, and the parked check. A timeout and an
 * interval of its own per child (before) were about 10 page faults of the
 * parent per start (#23). The timer is unref'd, and is left to run out when no
 * child is left, rather than cleared: a loop of start and join arms it once a
 * second, not once per child. A child is watched until it was reaped: one
 * that nobody joins is reaped here within a check.
 */
const watched = new Set<ForkedChild>();
let watchTimer: ReturnType<typeof setTimeout> | undefined;
/** When the armed timer runs (performance.now()), or Infinity when none is armed. */
let watchAt = Number.POSITIVE_INFINITY;

function watch(child: ForkedChild, at: number): void {
  watched.add(child);
  if (at < watchAt) armWatch(at);
}

function armWatch(at: number): void {
  if (watchTimer !== undefined) clearTimeout(watchTimer);
  watchAt = at;
  watchTimer = setTimeout(runWatch, Math.max(0, at - performance.now()));
  watchTimer.unref?.();
}

function runWatch(): void {
  watchTimer = undefined;
  watchAt = Number.POSITIVE_INFINITY;
  const now = performance.now();
  let next = Number.POSITIVE_INFINITY;
  for (const child of watched) next = Math.min(next, child.check(now));
  if (next < Number.POSITIVE_INFINITY) armWatch(Math.max(next, now + WATCH_STEP_MS));
}

/** The parent's handle on one fork child. */
export class ForkedChild implements ChildHandle {
  readonly pid: number;
  /** The child's pidfd, until it is closed: at close(), or when the child is reaped if nobody read `sentinel`. */
  #pidfd: number | undefined;
  /** `sentinel` was read: that number is the caller's now, open until close(). */
  #sentinelRead = false;
  /** What `sentinel` gives once the pidfd was closed early: a descriptor that is always readable. */
  #endedFd: number | undefined;
  readonly #name: string;
  #slot: StartSlot | undefined;
  readonly #startDeadline: number;
  readonly #startTimeout: number;
  /** When the next parked check is due (performance.now()). */
  #parkedCheckAt: number;
  /** The last check found the child parked for good. */
  #parkedSeen = false;
  /** The parked check reported and killed the child (it is watched on until reaped). */
  #parkedKilled = false;
  #code: number | null = null;
  #closed = false;

  constructor(opts: {
    pid: number;
    pidfd: number;
    slot: StartSlot;
    name: string;
    startTimeout: number;
    /** When fork(2) returned (performance.now()); the start deadline counts from there. */
    forkedAt: number;
  }) {
    this.pid = opts.pid;
    this.#pidfd = opts.pidfd;
    this.#slot = opts.slot;
    this.#name = opts.name;
    this.#startTimeout = opts.startTimeout;
    this.#startDeadline = opts.forkedAt + opts.startTimeout;
    parentDescriptors.add(opts.pidfd);
    this.#parkedCheckAt = opts.forkedAt + PARKED_CHECK_MS;
    // Supervised even when nobody joins.
    watch(this, Math.min(this.#startDeadline + 1, this.#parkedCheckAt));
  }

  /**
   * The watch's look at this child at `now`: the start deadline, then the
   * parked check when due. Returns when it wants the next look, or Infinity
   * once the child was reaped (it is no longer watched then).
   */
  check(now: number): number {
    if (this.poll() !== null || this.#closed) {
      watched.delete(this);
      return Number.POSITIVE_INFINITY;
    }
    const unannounced = this.#unannounced();
    if (unannounced && now >= this.#startDeadline) this.#supervise();
    if (now >= this.#parkedCheckAt) {
      this.#parkedCheckAt = now + PARKED_CHECK_MS;
      this.#checkParked();
    }
    return unannounced && now < this.#startDeadline
      ? Math.min(this.#startDeadline + 1, this.#parkedCheckAt)
      : this.#parkedCheckAt;
  }

  /**
   * A descriptor that becomes readable when the child ends (Python:
   * `sentinel`): its pidfd. A child reaped before anyone read this had its
   * pidfd closed then (#23): joined Processes that nobody closes would keep
   * one each until collected, and every later fork and child pays for each
   * open descriptor (8 children in parallel: 13-16 ms against 10-13 ms when
   * closed). Read after that, it is a descriptor that is always readable.
   */
  get sentinel(): number {
    if (!this.#sentinelRead && this.#pidfd !== undefined) {
      // From now on the pidfd may outlive the child's end: closed at close(), or when this object is collected.
      finalizer.register(this, [this.#pidfd], this);
    }
    this.#sentinelRead = true;
    if (this.#pidfd !== undefined) return this.#pidfd;
    if (this.#endedFd === undefined) {
      // A pipe whose write end is closed: readable (EOF) for good.
      const [readEnd, writeEnd] = native.makePipe();
      native.closeFd(writeEnd);
      this.#endedFd = readEnd;
      parentDescriptors.add(readEnd);
      finalizer.register(this, [readEnd], this);
    }
    return this.#endedFd;
  }

  poll(): number | null {
    if (this.#code !== null || this.#closed) return this.#code;
    const code = native.reapChild(this.#pidfd!);
    if (code !== null) this.#ended(code);
    return this.#code;
  }

  #ended(code: number): void {
    this.#code = code;
    watched.delete(this);
    if (!this.#sentinelRead) this.#closeDescriptors();
    if (this.#slot !== undefined) releaseSlot(this.#slot);
    this.#slot = undefined;
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
    if (this.poll() !== null || this.#parkedKilled) return;
    if (!native.parkedForever(this.pid)) {
      this.#parkedSeen = false;
      return;
    }
    if (!this.#parkedSeen) {
      this.#parkedSeen = true;
      return;
    }
    this.#parkedKilled = true;
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
      native.pollReadable(this.#pidfd!, Number.isFinite(slice) ? slice : undefined);
    }
  }

  async wait(timeoutMs: number | undefined): Promise<number | null> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    // Ended already (a batch joined in turn, or a child that ran while the caller worked): nothing to wait for.
    if (this.poll() !== null || this.#closed) return this.#code;
    // The kernel puts most new children on their parent's CPU, where each waits for the parent to block: giving
    // it the rest of this slice first lets a short child end before the join's second look, which then needs no
    // timer, signal or event-loop turn (#23: ~18 fewer faults of the parent a start + await join, 3-6% less
    // time; 8 in parallel and a Pool's start + close + join unchanged). A join(0) only looks.
    if (timeoutMs !== undefined && timeoutMs <= 0) return null;
    native.yieldThread();
    if (this.poll() !== null) return this.#code;
    // A fork child's loop runs no listener of the runtime (see `child-loop.ts`): it polls, backing off.
    const onSignal = !native.inForkChild();
    if (onSignal) listenForChildSignals();
    let backoff = 0;
    for (;;) {
      const now = performance.now();
      if (now >= deadline) return this.poll();
      let limit = deadline - now;
      if (this.#unannounced()) {
        this.#supervise();
        limit = Math.min(limit, Math.max(0, this.#startDeadline - now) + 1);
      }
      const wake = new NextWake(Math.min(limit, onSignal ? SIGNAL_WAIT_MAX_MS : backoff), onSignal);
      if (this.poll() !== null || this.#closed) {
        wake.cancel();
        return this.#code;
      }
      await wake.promise;
      wake.cancel();
      if (!onSignal) backoff = Math.min(BACKOFF_MAX_MS, Math.max(1, backoff * 2));
      if (this.poll() !== null || this.#closed) return this.#code;
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
    watched.delete(this);
    this.#closeDescriptors();
  }

  #closeDescriptors(): void {
    // Registered for collection only once `sentinel` was read (unregistering what was not is harmless).
    if (this.#sentinelRead) finalizer.unregister(this);
    closeOwn(this.#pidfd);
    closeOwn(this.#endedFd);
    this.#pidfd = undefined;
    this.#endedFd = undefined;
  }
}
