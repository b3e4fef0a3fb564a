/**
 * The fork child's own event loop. A forked child never returns to the
 * runtime's event loop: that loop holds the parent's pending timers, the
 * parent's I/O and the tasks of helper threads the child does not have, and
 * returning from `start()` would run the parent's code in the child. Instead
 * the child drives `run()` here: it drains the microtask queue (promises and
 * `process.nextTick`), runs its immediates and timers, and sleeps until the
 * next timer is due.
 *
 * When `run()` is still pending but nothing is left that could settle it (no
 * timer, no immediate), the child waits on a runtime service that needs the
 * runtime's loop or helper threads (fetch, fs.promises, a socket, ...): that
 * can never complete here, so the loop reports it instead of hanging.
 */
import { drainMicrotasks } from "bun:jsc";
import type { ChildSignals } from "./child-signals.ts";

/** Node's limit: longer or invalid delays become 1 ms. */
const TIMEOUT_MAX = 2 ** 31 - 1;

interface Task {
  readonly id: number;
  due: number;
  readonly callback: (...args: unknown[]) => void;
  readonly args: unknown[];
  /** The period of an interval; undefined for a one-shot timer. */
  readonly repeat: number | undefined;
  delay: number;
  readonly immediate: boolean;
  active: boolean;
  referenced: boolean;
}

/** The handle `setTimeout`/`setInterval`/`setImmediate` return in a fork child (Node's Timeout/Immediate shape). */
export class ChildTimer {
  readonly #task: Task;
  readonly #loop: ChildLoop;

  constructor(task: Task, loop: ChildLoop) {
    this.#task = task;
    this.#loop = loop;
  }

  /** The timer's id, as `clearTimeout` also accepts it. */
  get id(): number {
    return this.#task.id;
  }
  ref(): this {
    this.#task.referenced = true;
    return this;
  }
  unref(): this {
    this.#task.referenced = false;
    return this;
  }
  hasRef(): boolean {
    return this.#task.referenced;
  }
  /** Restarts the countdown with the original delay. */
  refresh(): this {
    this.#loop.reschedule(this.#task);
    return this;
  }
  close(): this {
    this.#loop.cancel(this.#task.id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.#task.id;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

function delayOf(ms: unknown): number {
  const n = Number(ms);
  return n >= 1 && n <= TIMEOUT_MAX ? n : 1;
}

/** Why `run` stopped: the awaited work settled, or nothing is left that could settle it. */
export type LoopOutcome = "settled" | "stuck";

/** Timers and immediates of a fork child, and the loop that runs them. */
export class ChildLoop {
  #nextId = 1;
  /** Pending timers, kept sorted by (due, id): the few a child holds make a sorted array cheapest. */
  #timers: Task[] = [];
  #immediates: Task[] = [];
  #byId = new Map<number, Task>();
  readonly #onError: (error: unknown) => void;
  readonly #signals: ChildSignals | undefined;

  /**
   * `onError` receives an error thrown by a timer, immediate or signal
   * listener (an uncaught error); `signals` are the child's own signal
   * listeners, emitted between turns.
   */
  constructor(onError: (error: unknown) => void, signals?: ChildSignals) {
    this.#onError = onError;
    this.#signals = signals;
  }

  #insert(task: Task): void {
    const t = this.#timers;
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = t[mid]!;
      if (m.due < task.due || (m.due === task.due && m.id < task.id)) lo = mid + 1;
      else hi = mid;
    }
    t.splice(lo, 0, task);
  }

  #make(callback: unknown, args: unknown[], delay: number, repeat: boolean, immediate = false): Task {
    if (typeof callback !== "function") {
      throw new TypeError(`The "callback" argument must be of type function, got ${typeof callback}`);
    }
    const task: Task = {
      id: this.#nextId++,
      due: performance.now() + delay,
      callback: callback as Task["callback"],
      args,
      repeat: repeat ? delay : undefined,
      delay,
      immediate,
      active: true,
      referenced: true,
    };
    this.#byId.set(task.id, task);
    return task;
  }

  setTimeout = (callback: unknown, ms?: unknown, ...args: unknown[]): ChildTimer => {
    const task = this.#make(callback, args, delayOf(ms), false);
    this.#insert(task);
    return new ChildTimer(task, this);
  };

  setInterval = (callback: unknown, ms?: unknown, ...args: unknown[]): ChildTimer => {
    const task = this.#make(callback, args, delayOf(ms), true);
    this.#insert(task);
    return new ChildTimer(task, this);
  };

  setImmediate = (callback: unknown, ...args: unknown[]): ChildTimer => {
    const task = this.#make(callback, args, 0, false, true);
    this.#immediates.push(task);
    return new ChildTimer(task, this);
  };

  /** Clears a timer or immediate given as a handle or an id; anything else is ignored, as in Node. */
  clear = (handle: unknown): void => {
    if (handle === undefined || handle === null) return;
    const id = handle instanceof ChildTimer ? handle.id : Number(handle);
    if (Number.isInteger(id)) this.cancel(id);
  };

  /** `Bun.sleep(ms | Date)`. */
  sleep = (until: number | Date): Promise<void> => {
    const ms = until instanceof Date ? until.getTime() - Date.now() : Number(until);
    return new Promise((resolve) => {
      const task = this.#make(resolve, [], Math.max(0, ms), false);
      this.#insert(task);
    });
  };

  /** Removes a pending task. */
  cancel(id: number): void {
    const task = this.#byId.get(id);
    if (task === undefined) return;
    task.active = false;
    this.#byId.delete(id);
    const list = task.immediate ? this.#immediates : this.#timers;
    const at = list.indexOf(task);
    if (at >= 0) list.splice(at, 1);
  }

  /** Moves a timer's due time to now + its delay (`refresh()`). */
  reschedule(task: Task): void {
    const at = this.#timers.indexOf(task);
    if (at < 0) return;
    this.#timers.splice(at, 1);
    task.due = performance.now() + task.delay;
    this.#insert(task);
  }

  #call(task: Task): void {
    try {
      task.callback(...task.args);
    } catch (error) {
      this.#onError(error);
    }
    drainMicrotasks();
  }

  /** Sleeps at most `ms` (0: only looks), and emits a signal the child listens to if one came. */
  #sleep(ms: number): void {
    if (this.#signals === undefined) {
      if (ms > 0) Bun.sleepSync(ms);
      return;
    }
    const name = this.#signals.take(ms);
    if (name === undefined) return;
    try {
      (process.emit as (event: string, ...args: unknown[]) => boolean)(name, name);
    } catch (error) {
      this.#onError(error);
    }
    drainMicrotasks();
  }

  /**
   * Runs microtasks, immediates and timers until `done()` is true ("settled")
   * or nothing that could make it true is left ("stuck").
   */
  run(done: () => boolean): LoopOutcome {
    for (;;) {
      drainMicrotasks();
      if (done()) return "settled";
      // Immediates queued while these run wait for the next turn, as in Node.
      const immediates = this.#immediates;
      this.#immediates = [];
      for (const task of immediates) {
        if (!task.active) continue;
        task.active = false;
        this.#byId.delete(task.id);
        this.#call(task);
        if (done()) return "settled";
      }
      const now = performance.now();
      while (this.#timers.length > 0 && this.#timers[0]!.due <= now) {
        const task = this.#timers.shift()!;
        if (task.repeat !== undefined) {
          task.due = Math.max(task.due + task.repeat, now);
          this.#insert(task);
        } else {
          task.active = false;
          this.#byId.delete(task.id);
        }
        this.#call(task);
        if (done()) return "settled";
      }
      if (this.#signals?.listening) {
        this.#sleep(0);
        if (done()) return "settled";
      }
      if (this.#immediates.length > 0) continue;
      const next = this.#timers[0];
      if (next === undefined) return "stuck";
      const wait = next.due - performance.now();
      // Sleeps the whole process: nothing but these timers (and the signals
      // the child listens to) can wake it.
      if (wait > 0) this.#sleep(wait);
    }
  }
}
