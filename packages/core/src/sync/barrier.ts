/**
 * Barrier: `parties` processes or threads wait until all have arrived
 * (Python: `multiprocessing.Barrier`, with `threading.Barrier`'s rules).
 *
 * Words: STATE (FILLING, DRAINING, RESETTING, BROKEN, as in threading's
 * 0, 1, -1, -2), COUNT (parties inside `wait`), GEN (bumped by every
 * broadcast; sleepers futex-wait on it). All three change only under the
 * barrier's own Lock; a sleeper reads GEN under the lock, releases it, and
 * sleeps while GEN is unchanged, so a broadcast between the two is not lost.
 */
import { registerReducer } from "../codec/reducers.ts";
import { BrokenBarrierError } from "../errors.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { futexWake } from "../native/futex.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import { checkTimeout } from "../timeout.ts";
import { awaitWhile, type SharedWord, sleepWhile } from "../wait/word.ts";
import { Lock } from "./lock.ts";

const Slot = { STATE: 0, COUNT: 1, GEN: 2 } as const;
const WORDS = 3;
const Phase = { FILLING: 0, DRAINING: 1, RESETTING: -1, BROKEN: -2 } as const;
const WAKE_ALL = 0x7fffffff;

/** What runs once per round, in the party whose arrival completed it. */
export type BarrierAction = () => unknown;

/** How a Barrier travels to another process. */
export interface BarrierState {
  block: BlockHandle;
  lock: Lock;
  parties: number;
  action: BarrierAction | undefined;
  timeout: number | undefined;
}

/** How `#run` waits: the sync and async forms share the round logic. */
interface Waiter {
  lock(): unknown;
  /** Releases the lock, sleeps until GEN moves on from `gen` or the deadline, re-takes the lock. */
  sleep(gen: number, deadline: number | undefined): void | Promise<void>;
  action(fn: BarrierAction): unknown;
}

/**
 * A reusable barrier for a fixed number of parties. Each `wait` returns a
 * distinct index from 0 to parties - 1; `action` runs once per round before
 * anyone is released. A timeout, an `abort()` or a failing action breaks the
 * barrier: every waiter then gets `BrokenBarrierError`, until `reset()`.
 *
 * @example
 * const barrier = mp.Barrier(3);
 * // in each of three processes:
 * const i = await barrier.wait(5000); // 0, 1 or 2
 */
export class Barrier {
  readonly #block: Block;
  readonly #words: Int32Array;
  readonly #lock: Lock;
  readonly #parties: number;
  readonly #action: BarrierAction | undefined;
  readonly #timeout: number | undefined;

  /**
   * @param parties how many must call `wait` to complete a round (>= 1)
   * @param action run once per round by the last party to arrive; on spawn and worker an exported function
   * @param timeout default timeout of `wait`, in ms (negative: do not wait, as in Python)
   * @throws RangeError for bad `parties` or `timeout`; TypeError for a bad `action`
   */
  constructor(parties: number | BarrierState, action?: BarrierAction, timeout?: number) {
    if (typeof parties === "object") {
      this.#block = attach(parties.block, WORDS * 4);
      this.#lock = parties.lock;
      this.#parties = parties.parties;
      this.#action = parties.action;
      this.#timeout = parties.timeout;
    } else {
      if (!Number.isInteger(parties) || parties < 1) {
        throw new RangeError(`Barrier parties must be an integer >= 1, got ${String(parties)}`);
      }
      if (action !== undefined && action !== null && typeof action !== "function") {
        throw new TypeError(`Barrier action must be a function, got ${typeof action}`);
      }
      const ms = checkTimeout(timeout, "Barrier");
      this.#block = allocate(WORDS * 4, { reusable: true });
      this.#lock = new Lock();
      this.#parties = parties;
      this.#action = action ?? undefined;
      this.#timeout = ms;
    }
    this.#words = this.#block.int32(WORDS);
  }

  /** The number of parties a round needs. */
  get parties(): number {
    return this.#parties;
  }

  /** The number of parties waiting in the current round (Python: `n_waiting`). */
  get nWaiting(): number {
    const w = this.#words;
    return Atomics.load(w, Slot.STATE) === Phase.FILLING ? Atomics.load(w, Slot.COUNT) : 0;
  }

  /** Whether the barrier is broken (Python: `broken`). */
  get broken(): boolean {
    return Atomics.load(this.#words, Slot.STATE) === Phase.BROKEN;
  }

  #deadline(timeout: number | undefined): number | undefined {
    const t = timeout === undefined ? this.#timeout : checkTimeout(timeout, "Barrier.wait");
    return t === undefined ? undefined : performance.now() + t;
  }

  /**
   * Blocks the calling thread until all parties arrived (Python: `wait`).
   * An async `action` is not awaited here; use `wait` for that.
   * @param timeout ms; default the barrier's timeout
   * @returns this party's index, 0 to parties - 1
   * @throws BrokenBarrierError when the barrier is or becomes broken (timeout, abort, reset, failed action)
   */
  waitSync(timeout?: number): number {
    const deadline = this.#deadline(timeout);
    return this.#run<number>(deadline, {
      lock: () => this.#lock.acquireSync(),
      sleep: (gen, until) => this.#sleepSync(gen, until),
      action: (fn) => {
        fn(); // a returned promise is not awaited: the round is released now
      },
    }) as number;
  }

  /** Async form of `waitSync`; an async `action` is awaited before anyone is released. */
  async wait(timeout?: number): Promise<number> {
    const deadline = this.#deadline(timeout);
    return await this.#run<Promise<number>>(deadline, {
      lock: () => this.#lock.acquire(),
      sleep: (gen, until) => this.#sleep(gen, until),
      action: (fn) => fn(),
    });
  }

  /**
   * One party's pass through the barrier, written once for both forms: with
   * the sync waiter every step returns plainly; with the async one, each step
   * that sleeps returns a promise the rest chains on. Mirrors threading.Barrier.wait.
   */
  #run<R>(deadline: number | undefined, waiter: Waiter): R | number {
    const w = this.#words;
    const release = (): void => this.#lock.release();
    // With the lock held: wait out a draining or resetting round, then join this one.
    const enter = (): unknown => {
      for (;;) {
        const s = Atomics.load(w, Slot.STATE);
        if (s === Phase.BROKEN) throw new BrokenBarrierError("Barrier is broken");
        if (s === Phase.FILLING) break;
        const slept = waiter.sleep(Atomics.load(w, Slot.GEN), undefined);
        if (slept instanceof Promise) return slept.then(enter);
      }
      const index = Atomics.add(w, Slot.COUNT, 1);
      const leave = (): void => {
        Atomics.sub(w, Slot.COUNT, 1);
        this.#exit();
      };
      const done = (): number => {
        leave();
        return index;
      };
      const failed = (error: unknown): never => {
        leave();
        throw error;
      };
      try {
        const outcome = index + 1 === this.#parties ? this.#complete(waiter) : this.#await(waiter, deadline);
        return outcome instanceof Promise ? outcome.then(done, failed) : done();
      } catch (error) {
        return failed(error);
      }
    };
    const locked = waiter.lock();
    if (locked instanceof Promise) {
      return locked.then(enter).finally(release) as R;
    }
    try {
      return enter() as number;
    } finally {
      release();
    }
  }

  /** The last party arrived: run the action, then release the round (lock held). */
  #complete(waiter: Waiter): unknown {
    const finish = (): void => {
      Atomics.store(this.#words, Slot.STATE, Phase.DRAINING);
      this.#broadcast();
    };
    const fail = (error: unknown): never => {
      this.#break();
      throw error;
    };
    try {
      const ran = this.#action === undefined ? undefined : waiter.action(this.#action);
      if (ran instanceof Promise) return ran.then(finish, fail);
      finish();
      return undefined;
    } catch (error) {
      return fail(error);
    }
  }

  /** Waits (lock held) until the round is released or broken; breaks it on timeout. */
  #await(waiter: Waiter, deadline: number | undefined): unknown {
    const w = this.#words;
    const check = (): unknown => {
      for (;;) {
        const s = Atomics.load(w, Slot.STATE);
        if (s < 0) throw new BrokenBarrierError("Barrier was broken while waiting");
        if (s !== Phase.FILLING) return undefined;
        if (deadline !== undefined && performance.now() >= deadline) {
          this.#break();
          throw new BrokenBarrierError("Barrier wait timed out; the barrier is now broken");
        }
        const slept = waiter.sleep(Atomics.load(w, Slot.GEN), deadline);
        if (slept instanceof Promise) return slept.then(check);
      }
    };
    return check();
  }

  /** The last party out of a released or reset round opens the barrier again (lock held). */
  #exit(): void {
    const w = this.#words;
    const s = Atomics.load(w, Slot.STATE);
    if (Atomics.load(w, Slot.COUNT) === 0 && (s === Phase.DRAINING || s === Phase.RESETTING)) {
      Atomics.store(w, Slot.STATE, Phase.FILLING);
      this.#broadcast();
    }
  }

  #break(): void {
    Atomics.store(this.#words, Slot.STATE, Phase.BROKEN);
    this.#broadcast();
  }

  /** Wakes every sleeper: they all sleep on GEN (lock held). */
  #broadcast(): void {
    Atomics.add(this.#words, Slot.GEN, 1);
    futexWake(this.#block.address(Slot.GEN * 4), WAKE_ALL);
  }

  /** GEN: every sleeper waits for it to change. */
  #genWord(): SharedWord {
    return { words: this.#words, index: Slot.GEN, address: this.#block.address(Slot.GEN * 4) };
  }

  #sleepSync(gen: number, deadline: number | undefined): void {
    this.#lock.release();
    try {
      sleepWhile(this.#genWord(), gen, deadline ?? Number.POSITIVE_INFINITY);
    } finally {
      this.#lock.acquireSync();
    }
  }

  async #sleep(gen: number, deadline: number | undefined): Promise<void> {
    const pid = process.pid;
    this.#lock.release();
    try {
      const left = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      await awaitWhile(this.#genWord(), gen, left);
    } finally {
      if (forkedSince(pid)) await forever;
      await this.#lock.acquire();
    }
  }

  /**
   * Returns the barrier to its empty, unbroken state (Python: `reset`).
   * Parties waiting now get BrokenBarrierError.
   */
  reset(): void {
    this.#lock.acquireSync();
    try {
      const w = this.#words;
      if (Atomics.load(w, Slot.COUNT) > 0) {
        const s = Atomics.load(w, Slot.STATE);
        if (s === Phase.FILLING || s === Phase.BROKEN) Atomics.store(w, Slot.STATE, Phase.RESETTING);
      } else {
        Atomics.store(w, Slot.STATE, Phase.FILLING);
      }
      this.#broadcast();
    } finally {
      this.#lock.release();
    }
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until `reset()` (Python: `abort`). */
  abort(): void {
    this.#lock.acquireSync();
    try {
      this.#break();
    } finally {
      this.#lock.release();
    }
  }

  toString(): string {
    return `<Barrier(parties=${this.#parties}, waiting=${this.nWaiting}, broken=${this.broken})>`;
  }

  static {
    registerReducer(Barrier, {
      tag: "Barrier",
      reduce: (b): BarrierState => ({
        block: b.#block.handle(),
        lock: b.#lock,
        parties: b.#parties,
        action: b.#action,
        timeout: b.#timeout,
      }),
      rebuild: (state) => new Barrier(state as BarrierState),
    });
  }
}
