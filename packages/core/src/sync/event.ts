/** Event: a flag processes and threads can wait for (Python: `multiprocessing.Event`). */
import { registerReducer } from "../codec/reducers.ts";
import { futexWake } from "../native/futex.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import { checkTimeout } from "../timeout.ts";
import { awaitWhile, type SharedWord, sleepWhile } from "../wait/word.ts";

/** Named word offsets: FLAG is 1 while set (the futex word); WAITERS counts threads asleep on it. */
const Slot = { FLAG: 0, WAITERS: 1 } as const;
const WORDS = 2;
const WAKE_ALL = 0x7fffffff;

/** How an Event travels to another process. */
export interface EventState {
  block: BlockHandle;
}

/**
 * A shared boolean flag, false at first: `set()` wakes every process and
 * thread blocked in `wait`, `clear()` lowers it again. Setting and reading
 * make no system call unless someone sleeps.
 *
 * @example
 * const ready = mp.Event();
 * new mp.Process({ target: worker, args: [ready] }).start();
 * await ready.wait(5000); // true once the worker called ready.set()
 */
export class Event {
  readonly #block: Block;
  readonly #words: Int32Array;
  readonly #flagAddress: number;
  readonly #flag: SharedWord;

  /** @param state internal: rebuilds an event received from another process. */
  constructor(state?: EventState) {
    this.#block = state === undefined ? allocate(WORDS * 4, { reusable: true }) : attach(state.block, WORDS * 4);
    this.#words = this.#block.int32(WORDS);
    this.#flagAddress = this.#block.address(Slot.FLAG * 4);
    this.#flag = { words: this.#words, index: Slot.FLAG, address: this.#flagAddress };
  }

  /** Whether the flag is set (Python: `is_set`). */
  isSet(): boolean {
    return Atomics.load(this.#words, Slot.FLAG) === 1;
  }

  /** Sets the flag and wakes every waiter (Python: `set`). */
  set(): void {
    const w = this.#words;
    // A sleeper counted itself in WAITERS before its futexWait compared FLAG
    // with 0; so either we see it here and wake it, or its wait sees FLAG = 1.
    if (Atomics.exchange(w, Slot.FLAG, 1) === 0 && Atomics.load(w, Slot.WAITERS) > 0) {
      futexWake(this.#flagAddress, WAKE_ALL);
    }
  }

  /** Lowers the flag (Python: `clear`). */
  clear(): void {
    Atomics.store(this.#words, Slot.FLAG, 0);
  }

  /**
   * Blocks the calling thread until the flag is set or `timeout` ms pass.
   * @returns the flag at the end: false only when the timeout passed
   */
  waitSync(timeout?: number): boolean {
    const ms = checkTimeout(timeout, "Event.wait");
    if (this.isSet()) return true;
    const deadline = ms === undefined ? Number.POSITIVE_INFINITY : performance.now() + ms;
    return sleepWhile(this.#flag, 0, deadline, Slot.WAITERS) || this.isSet();
  }

  /** Waits without blocking the event loop; resolves to the flag (false: timed out). */
  wait(timeout?: number): Promise<boolean> {
    const ms = checkTimeout(timeout, "Event.wait");
    if (this.isSet()) return Promise.resolve(true);
    return this.#waitAsync(ms);
  }

  async #waitAsync(timeout: number | undefined): Promise<boolean> {
    // Counted like a sleeper, so that set() wakes this realm's waker thread.
    return (await awaitWhile(this.#flag, 0, timeout, Slot.WAITERS)) || this.isSet();
  }

  toString(): string {
    return `<Event(${this.isSet() ? "set" : "unset"})>`;
  }

  static {
    registerReducer(Event, {
      tag: "Event",
      reduce: (event): EventState => ({ block: event.#block.handle() }),
      rebuild: (state) => new Event(state as EventState),
    });
  }
}
