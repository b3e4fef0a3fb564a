/**
 * SemLock: the shared-word semaphore every lock is built on (CPython's
 * `_multiprocessing.SemLock`). Its words live in the shared arena, so one
 * SemLock works across every process and thread it is sent to.
 *
 * Words (Int32, see `Slot`): VALUE is the count of free permits, WAITERS the
 * number of waiters asleep on VALUE (sync ones in futexWait, async ones
 * through their realm's waker thread, see `wait/poll.ts`), OWNER the thread id of the
 * holder, COUNT the recursion depth (RLock only); a semaphore that tracks
 * more than one holder keeps the others in the words after COUNT.
 *
 * Acquire takes a permit with one compare-and-swap on VALUE: no system call
 * unless it must sleep. Release adds a permit and wakes a sleeper only when
 * WAITERS says there is one.
 *
 * Dead holders (something CPython does not handle: its waiters hang): a
 * waiter sleeps in slices of `SLICE_MS` (wait/tuning.ts) and, after each empty slice, asks
 * whether the threads recorded as holders still exist. When one has died, the
 * waiter takes its permit over with one compare-and-swap of the holder word
 * (so two waiters cannot both take it): the acquire returns true and the
 * caller is told through `onAbandoned`, or a process warning.
 */
import { AbandonedLockError, PicklingError } from "../errors.ts";
import { futexWait, futexWake } from "../native/futex.ts";
import { threadId } from "../native/thread.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import { checkTimeout } from "../timeout.ts";
import { takeOverDead } from "../wait/dead-holder.ts";
import { pollUntil } from "../wait/poll.ts";
import { SLICE_MS } from "../wait/tuning.ts";

/** Named word offsets inside a SemLock block; `HOLDERS` starts the extra holder words. */
export const Slot = { VALUE: 0, WAITERS: 1, OWNER: 2, COUNT: 3, HOLDERS: 4 } as const;
const BASE_WORDS = 4;
/** At most this many permit holders are recorded (and so recoverable when they die). */
const MAX_TRACKED = 16;

/** Options of `acquire`/`acquireSync` (Python: `block`, `timeout`, in milliseconds). */
export interface AcquireOptions {
  /** false: take the lock only if it is free right now. Default true. */
  block?: boolean;
  /** Longest wait in ms; undefined waits forever. */
  timeout?: number;
  /**
   * Called when this acquire succeeded by taking over the permit of a holder
   * that died without releasing it. Without it, the same error is emitted as
   * a process warning (`process.on("warning")`).
   */
  onAbandoned?: (error: AbandonedLockError) => void;
}

/** How a SemLock travels to another process. */
export interface SemLockState {
  block: BlockHandle;
  max: number;
  /** Number of holder words (0: holders not recorded). Lock and RLock: 1. */
  holders?: number;
}

/** How a new SemLock starts. */
export interface SemLockInit {
  value: number;
  max: number;
  /** Holder words to keep; default: one per initial permit, up to 16. */
  holders?: number;
}

/**
 * Whether the calling thread holds a permit of `lock` (Python:
 * `SemLock._is_mine`). Only recorded holders are known, and async tasks of
 * one thread share its id. For Condition's "lock not held" checks.
 */
export let heldByCaller: (lock: SemLock) => boolean;

/** A counting semaphore over shared words, with an upper bound `max` on its value. */
export class SemLock {
  readonly #block: Block;
  readonly #words: Int32Array;
  readonly #valueAddress: number;
  readonly #max: number;
  /** Word indices of the recorded holders: [OWNER, HOLDERS, HOLDERS+1, ...]. */
  readonly #holderSlots: number[];
  /** `#holderSlots.length`, read on the fast path. */
  readonly #tracked: number;

  protected constructor(init: SemLockInit | SemLockState) {
    let holders: number;
    if ("block" in init) {
      holders = init.holders ?? 1;
      // 0 is a Semaphore(0)'s: it records no holder.
      if (!Number.isSafeInteger(holders) || holders < 0 || holders > MAX_TRACKED) {
        throw new PicklingError(
          `Lock handle holders must be an integer from 0 to ${MAX_TRACKED}, got ${holders}`,
          "holders",
        );
      }
      this.#block = attach(init.block, (BASE_WORDS + Math.max(0, holders - 1)) * 4);
    } else {
      holders = init.holders ?? Math.min(Math.max(init.value, 0), MAX_TRACKED);
      this.#block = allocate((BASE_WORDS + Math.max(0, holders - 1)) * 4, { reusable: true });
      this.#block.int32(1)[Slot.VALUE] = init.value;
    }
    this.#max = init.max;
    this.#tracked = holders;
    this.#holderSlots =
      holders === 0 ? [] : [Slot.OWNER, ...Array.from({ length: holders - 1 }, (_, i) => Slot.HOLDERS + i)];
    this.#words = this.#block.int32(BASE_WORDS + Math.max(0, holders - 1));
    this.#valueAddress = this.#block.address(Slot.VALUE * 4);
  }

  /** The state another process needs to rebuild this object over the same words. */
  protected reduceState(): SemLockState {
    return { block: this.#block.handle(), max: this.#max, holders: this.#holderSlots.length };
  }

  /** The shared words (for subclasses that keep extra state in OWNER/COUNT). */
  protected get words(): Int32Array {
    return this.#words;
  }

  /** Takes one permit if one is free, without waiting. */
  protected tryTake(): boolean {
    const w = this.#words;
    for (;;) {
      const v = Atomics.load(w, Slot.VALUE);
      if (v <= 0) return false;
      if (Atomics.compareExchange(w, Slot.VALUE, v, v - 1) === v) {
        // Between the exchange above and this store a waiter may read OWNER
        // as 0 ("unknown"), never as a stale holder: release clears it first.
        // A plain store: only waiters read it, and only after a whole slice.
        // COUNT = 1 is the depth of a fresh RLock hold, set in this same
        // synchronous step (see RLock); a Lock or Semaphore ignores it.
        if (this.#tracked === 1) {
          w[Slot.OWNER] = threadId();
          w[Slot.COUNT] = 1;
        } else if (this.#tracked > 1) this.#record();
        return true;
      }
    }
  }

  /** Records the caller in a free holder word (a semaphore with several holders). */
  #record(): void {
    const w = this.#words;
    const me = threadId();
    for (const slot of this.#holderSlots) {
      if (Atomics.compareExchange(w, slot, 0, me) === 0) return;
    }
    // More holders than words: this one is not recorded (and not recoverable).
  }

  /** Clears the caller's holder word, or another one when the caller holds none (a hand-over). */
  #unrecord(): void {
    const w = this.#words;
    const slots = this.#holderSlots;
    const me = threadId();
    for (const slot of slots) {
      if (Atomics.compareExchange(w, slot, me, 0) === me) return;
    }
    for (const slot of slots) {
      const t = Atomics.load(w, slot);
      if (t !== 0 && Atomics.compareExchange(w, slot, t, 0) === t) return;
    }
  }

  /**
   * Takes over the permit of a recorded holder that has died, if any: its
   * holder word is swapped to the caller, so the permit changes hands without
   * ever being free (and only one waiter can win it).
   */
  #takeOverDead(opts: AcquireOptions | undefined): boolean {
    const w = this.#words;
    if (this.#tracked === 0 || Atomics.load(w, Slot.VALUE) > 0) return false;
    const me = threadId();
    for (const slot of this.#holderSlots) {
      const dead = Atomics.load(w, slot);
      if (!takeOverDead(w, slot, dead, dead, me)) continue;
      if (slot === Slot.OWNER) w[Slot.COUNT] = 1; // a fresh hold, as in tryTake
      const error = new AbandonedLockError(
        `${this.constructor.name} held by thread ${dead}, which died without releasing it, is now held by thread ${me}; the data it guards may be inconsistent`,
        { owner: dead },
      );
      if (opts?.onAbandoned !== undefined) opts.onAbandoned(error);
      else process.emitWarning(error);
      return true;
    }
    return false;
  }

  /** Blocks the calling thread until a permit is taken or `timeout` ms pass. */
  protected takeSync(opts: AcquireOptions | undefined): boolean {
    const timeout = checkTimeout(opts?.timeout, `${this.constructor.name}.acquire`);
    if (this.tryTake()) return true;
    if (opts?.block === false) return false;
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    const w = this.#words;
    for (;;) {
      const left = deadline === undefined ? SLICE_MS : Math.min(SLICE_MS, deadline - performance.now());
      if (left <= 0) return this.tryTake();
      // Announce the sleeper before sleeping: a releaser that adds a permit
      // after this point sees WAITERS > 0 and wakes us; one that added it
      // before makes futexWait return at once, since VALUE is no longer 0.
      Atomics.add(w, Slot.WAITERS, 1);
      const woke = futexWait(this.#valueAddress, 0, left);
      Atomics.sub(w, Slot.WAITERS, 1);
      if (this.tryTake()) return true;
      // A whole slice without a release: is the holder still alive?
      if (woke === "timeout" && this.#takeOverDead(opts)) return true;
    }
  }

  /** Waits without blocking the event loop until a permit is taken or `timeout` ms pass. */
  protected async take(opts: AcquireOptions | undefined): Promise<boolean> {
    const timeout = checkTimeout(opts?.timeout, `${this.constructor.name}.acquire`);
    if (this.tryTake()) return true;
    if (opts?.block === false) return false;
    let checked = performance.now();
    const w = this.#words;
    // Counted like a sleeper, so that a release wakes this realm's waker thread.
    Atomics.add(w, Slot.WAITERS, 1);
    try {
      return await pollUntil(
        () => {
          if (this.tryTake()) return true;
          const now = performance.now();
          if (now - checked < SLICE_MS) return false;
          checked = now;
          return this.#takeOverDead(opts);
        },
        timeout,
        { address: this.#valueAddress, read: () => Atomics.load(w, Slot.VALUE) },
      );
    } finally {
      Atomics.sub(w, Slot.WAITERS, 1);
    }
  }

  /** Returns one permit; throws RangeError past `max` ("released too many times"). */
  protected give(): void {
    const w = this.#words;
    // Clear the holder before the permit is free, so no waiter ever sees a
    // free-then-retaken lock still naming this (possibly soon dead) thread.
    // The compare-and-swap below publishes this plain store before the permit.
    // (A release past `max` clears nothing: a free lock records no holder.)
    if (this.#tracked === 1) w[Slot.OWNER] = 0;
    else if (this.#tracked > 1) {
      if (Atomics.load(w, Slot.VALUE) >= this.#max) throw new RangeError(this.overReleaseMessage());
      this.#unrecord();
    }
    for (;;) {
      const v = Atomics.load(w, Slot.VALUE);
      if (v >= this.#max) throw new RangeError(this.overReleaseMessage());
      if (Atomics.compareExchange(w, Slot.VALUE, v, v + 1) === v) break;
    }
    if (Atomics.load(w, Slot.WAITERS) > 0) futexWake(this.#valueAddress, 1);
  }

  /** Message of the error thrown by a release past `max`. */
  protected overReleaseMessage(): string {
    return "Semaphore released too many times";
  }

  /** Number of free permits right now (Python: `SemLock._get_value`). */
  protected get value(): number {
    return Atomics.load(this.#words, Slot.VALUE);
  }

  /** The upper bound on the number of free permits. */
  protected get max(): number {
    return this.#max;
  }

  static {
    heldByCaller = (lock) => {
      const w = lock.#words;
      if (Atomics.load(w, Slot.VALUE) >= lock.#max) return false;
      const me = threadId();
      for (const slot of lock.#holderSlots) if (Atomics.load(w, slot) === me) return true;
      return false;
    };
  }
}
