/**
 * A child made ahead of need, for a backend whose children take long to get
 * ready (a Worker or a `bun` process that loads core's child side: see the
 * start + join rows of `bun run bench`, apps/bench/src/ours.ts): the next
 * `start()` only hands it the child. Python's forkserver does
 * the like. Set MULTIPROC_SPARE=0 to never keep one.
 */

/** What a backend's spare is: a child not yet given its work. */
export interface SpareChild {
  /** Whether it may still be given a child (it has not failed nor ended). */
  readonly usable: boolean;
  /** Settles once it has ended, for the child it was given. */
  readonly ended: Promise<unknown>;
  /** Ends it unused; returns once it is gone, or soon after (`timeoutMs`). */
  dismiss(timeoutMs: number): void;
  /** In a fork child: lets go of what this copy of the process holds of a spare its parent owns. */
  forget(): void;
}

/** How long letting a spare go may wait for it to end (ms); it is idle, so this is ample. */
const DISMISS_TIMEOUT_MS = 2000;
/**
 * Starts closer together than this come about as fast as a spare gets ready
 * (the "start + join of a no-op child" row of `bun run bench`): the next one is made at once. Further apart, it is made once
 * the child has ended, and does not compete with it for the CPU meanwhile.
 */
const EAGER_WITHIN_MS = 20;

/** One backend's spare: at most one at a time, made by `make`, in the process that made it. */
export class Spare<C extends SpareChild> {
  readonly #make: () => C;
  #spare: C | undefined;
  /** The process that made `#spare`: a fork child has a copy of the object, not the child. */
  #owner = 0;
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(make: () => C) {
    this.#make = make;
  }

  /** The spare, now the caller's, if there is one that may still be given a child. */
  take(): C | undefined {
    const taken = this.#own();
    this.#spare = undefined;
    if (taken === undefined || taken.usable) return taken;
    taken.dismiss(DISMISS_TIMEOUT_MS); // it failed or ended on its own
    return undefined;
  }

  /** Has the next spare made, now or once `child` (just started) has ended; see `EAGER_WITHIN_MS`. */
  replace(child: C): void {
    const now = performance.now();
    if (now - this.#lastStart < EAGER_WITHIN_MS) this.#fill();
    else void child.ended.then(() => this.#fill());
    this.#lastStart = now;
  }

  /** Ends the spare, if any, and waits for it to be gone. */
  dismiss(): void {
    this.#own()?.dismiss(DISMISS_TIMEOUT_MS);
    this.#spare = undefined;
  }

  /** The spare if this process made it; a fork child's copy of its parent's is let go of here. */
  #own(): C | undefined {
    if (this.#spare === undefined || this.#owner === process.pid) return this.#spare;
    this.#spare.forget();
    this.#spare = undefined;
    return undefined;
  }

  #fill(): void {
    if (this.#own() !== undefined) return;
    if (!Bun.isMainThread || process.env.MULTIPROC_SPARE === "0") return;
    this.#spare = this.#make();
    this.#owner = process.pid;
  }
}
