/**
 * Value and RawValue: one number in shared memory (Python:
 * `multiprocessing.Value` / `RawValue`, the `Synchronized` wrapper and a
 * ctypes object). The element is carved from the arena, so ten thousand
 * Values share one mapping and one descriptor.
 */
import { registerReducer } from "../codec/reducers.ts";
import type { Held } from "../sync/held.ts";
import type { Lock } from "../sync/lock.ts";
import type { RLock } from "../sync/rlock.ts";
import type { AcquireOptions } from "../sync/sem-lock.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import { resolveLock, type SharedOptions } from "./_lock-option.ts";
import {
  type ElementOf,
  type InitOf,
  type TypeInfo,
  type Typecode,
  toElement,
  toStored,
  typeInfo,
} from "./typecodes.ts";

/** How a value travels to another process. */
export interface ValueState {
  typecode: Typecode;
  block: BlockHandle;
  lock?: Lock | RLock;
}

/** A one-element view of the block, of the typecode's typed array. */
function cellOf(info: TypeInfo, block: Block): { [i: number]: number | bigint } {
  return new info.ctor(block.buffer, block.byteOffset, 1);
}

/**
 * One number in shared memory, without a lock (Python: `RawValue`, or
 * `Value(..., lock=False)`): every process and thread it is sent to reads and
 * writes the same memory. `value += 1` from two places at once can lose an
 * update; use `Value` and its lock for that.
 *
 * @example
 * const hits = mp.RawValue("i", 0);
 * hits.value = 5;
 */
export class SharedValue<T extends number | bigint = number | bigint> {
  readonly #info: TypeInfo;
  readonly #block: Block;
  readonly #cell: { [i: number]: number | bigint };

  /** Internal: values are made by `mp.Value` / `mp.RawValue`. */
  constructor(typecode: Typecode, block: Block) {
    this.#info = typeInfo(typecode);
    this.#block = block;
    this.#cell = cellOf(this.#info, block);
  }

  /** The typecode, e.g. "i". */
  get typecode(): Typecode {
    return this.#info.code;
  }

  /** The current number (a bigint for `l L q Q`). */
  get value(): T {
    return this.#cell[0] as T;
  }

  /** @throws TypeError for a value of the wrong type; integers wrap as in C */
  set value(v: T) {
    this.#cell[0] = toStored(this.#info, v);
  }

  /** The state another process needs (subclasses add their lock). */
  protected baseState(): ValueState {
    return { typecode: this.#info.code, block: this.#block.handle() };
  }

  toString(): string {
    return `RawValue(${JSON.stringify(this.typecode)}, ${String(this.value)})`;
  }

  static {
    registerReducer(SharedValue, {
      tag: "RawValue",
      reduce: (v) => v.baseState(),
      rebuild: (s) => {
        const state = s as ValueState;
        return new SharedValue(state.typecode, attach(state.block, typeInfo(state.typecode).bytes));
      },
    });
  }
}

/**
 * One number in shared memory guarded by a lock (Python: the `Synchronized`
 * object `multiprocessing.Value` returns). Reading and writing `value` each
 * take the lock; for a read-modify-write hold it around both:
 * `using _ = v.getLock().holdSync(); v.value += 1;`.
 *
 * @example
 * const counter = mp.Value("i", 0);
 * counter.getLock().acquireSync();
 * try { counter.value += 1; } finally { counter.getLock().release(); }
 */
export class SynchronizedValue<T extends number | bigint = number | bigint> extends SharedValue<T> {
  readonly #lock: Lock | RLock;

  /** Internal: values are made by `mp.Value`. */
  constructor(typecode: Typecode, block: Block, lock: Lock | RLock) {
    super(typecode, block);
    this.#lock = lock;
  }

  /** The current number, read under the lock. */
  override get value(): T {
    this.#lock.acquireSync();
    try {
      return super.value;
    } finally {
      this.#lock.release();
    }
  }

  /** Writes under the lock. @throws TypeError for a value of the wrong type */
  override set value(v: T) {
    this.#lock.acquireSync();
    try {
      super.value = v;
    } finally {
      this.#lock.release();
    }
  }

  /** The lock that guards the value (Python: `get_lock`); an RLock unless one was given. */
  getLock(): Lock | RLock {
    return this.#lock;
  }

  /** The same memory without the lock (Python: `get_obj`). */
  getObj(): SharedValue<T> {
    const { typecode, block } = this.baseState();
    return new SharedValue<T>(typecode, attach(block));
  }

  /** Takes the lock without blocking the event loop (Python: `acquire`). */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(opts);
  }

  /** Takes the lock, blocking the calling thread. */
  acquireSync(opts?: AcquireOptions): boolean {
    return this.#lock.acquireSync(opts);
  }

  /** Releases the lock. */
  release(): void {
    this.#lock.release();
  }

  /** Takes the lock for a `using` block (Python: `with value:`). */
  holdSync(opts?: AcquireOptions): Held {
    return this.#lock.holdSync(opts);
  }

  override toString(): string {
    return `Value(${JSON.stringify(this.typecode)}, ${String(this.value)})`;
  }

  static {
    registerReducer(SynchronizedValue, {
      tag: "Value",
      reduce: (v): ValueState => ({ ...v.baseState(), lock: v.#lock }),
      rebuild: (s) => {
        const state = s as ValueState;
        return new SynchronizedValue(state.typecode, attach(state.block, typeInfo(state.typecode).bytes), state.lock!);
      },
    });
  }
}

/** Checks a new value's typecode and initial value; returns a function that allocates it. */
function prepare(typecode: unknown, initial: unknown): () => { code: Typecode; block: Block } {
  const info = typeInfo(typecode);
  const element = toElement(info, initial ?? (info.kind === "bigint" ? 0n : 0), "initial value");
  return () => {
    const block = allocate(info.bytes, { reusable: true });
    cellOf(info, block)[0] = element;
    return { code: info.code, block };
  };
}

/**
 * A new unsynchronized shared number (Python: `RawValue(typecode, value)`).
 * @param typecode one of `b B h H i I l L q Q f d c`
 * @param initial the first value (default 0); a bigint or safe integer for `l L q Q`
 * @throws TypeError or RangeError for a bad typecode or initial value, naming what is valid
 * @example
 * const total = RawValue("d", 0);
 */
export function RawValue<C extends Typecode>(typecode: C, initial?: InitOf<C>): SharedValue<ElementOf<C>> {
  const { code, block } = prepare(typecode, initial)();
  return new SharedValue(code, block);
}

/**
 * A new shared number, guarded by a new RLock unless `lock` is false or a
 * given Lock/RLock (Python: `Value(typecode, value, lock=True)`).
 * @param typecode one of `b B h H i I l L q Q f d c`
 * @param initial the first value (default 0); a bigint or safe integer for `l L q Q`
 * @throws TypeError or RangeError for a bad typecode, initial value or lock, naming what is valid
 * @example
 * const counter = Value("i", 0);
 * const big = Value("q", 2n ** 40n, { lock: false }); // a SharedValue<bigint>
 */
export function Value<C extends Typecode>(
  typecode: C,
  initial?: InitOf<C>,
  opts?: { lock?: true | Lock | RLock },
): SynchronizedValue<ElementOf<C>>;
export function Value<C extends Typecode>(
  typecode: C,
  initial: InitOf<C> | undefined,
  opts: { lock: false },
): SharedValue<ElementOf<C>>;
export function Value<C extends Typecode>(
  typecode: C,
  initial?: InitOf<C>,
  opts?: SharedOptions,
): SharedValue<ElementOf<C>> | SynchronizedValue<ElementOf<C>>;
export function Value<C extends Typecode>(
  typecode: C,
  initial?: InitOf<C>,
  opts?: SharedOptions,
): SharedValue<ElementOf<C>> | SynchronizedValue<ElementOf<C>> {
  const allocateValue = prepare(typecode, initial);
  const lock = resolveLock(opts);
  const { code, block } = allocateValue();
  return lock === undefined ? new SharedValue(code, block) : new SynchronizedValue(code, block, lock);
}
