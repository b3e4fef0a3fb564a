/**
 * Array and RawArray: real typed arrays over shared memory (Python:
 * `multiprocessing.Array` / `RawArray`). Each is an instance of a small
 * subclass of the typecode's typed array (Int32Array for "i", ...), so
 * indexing, `a[i] += 1`, `Array.from(a)` and `instanceof Int32Array` work as
 * usual, while the codec recognises it and sends its segment, not a copy.
 */
import { PicklingError } from "../errors.ts";
import { registerReducer } from "../codec/reducers.ts";
import type { Lock } from "../sync/lock.ts";
import type { RLock } from "../sync/rlock.ts";
import { resolveLock, type SharedOptions } from "./_lock-option.ts";
import { allocate, attach, type Block, type BlockHandle } from "../arena/arena.ts";
import {
  type TypedArrayConstructor,
  type TypedArrayOf,
  type TypeInfo,
  type Typecode,
  TYPECODES,
  toElement,
  typeInfo,
} from "./typecodes.ts";

/** A typed array over shared memory without a lock (Python: `RawArray`). */
export type SharedTypedArray<C extends Typecode = Typecode> = TypedArrayOf[C];

/** A typed array over shared memory with its lock (Python: `SynchronizedArray`). */
export type SynchronizedTypedArray<C extends Typecode = Typecode> = TypedArrayOf[C] & {
  /** The lock to hold around a read-modify-write of the elements (Python: `get_lock`). */
  getLock(): Lock | RLock;
};

/** What a shared array's initial contents may be: a length, values, or (typecode `c`) a string's UTF-8 bytes. */
export type ArrayInit = number | string | Iterable<number | bigint> | ArrayLike<number | bigint>;

/** How a shared array travels to another process. */
interface ArrayState {
  typecode: Typecode;
  block: BlockHandle;
  length: number;
  lock: Lock | RLock | undefined;
}

interface ArrayMeta {
  readonly typecode: Typecode;
  readonly block: Block;
  readonly lock: Lock | RLock | undefined;
}

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;

const meta = new WeakMap<object, ArrayMeta>();
const classes = new Map<TypedArrayConstructor, ViewConstructor>();

/** The shared subclass of typed array `Base`, made (and given its reducer) on first use. */
function sharedClass(Base: TypedArrayConstructor): ViewConstructor {
  let cls = classes.get(Base);
  if (cls !== undefined) return cls;
  cls = class Shared extends (Base as unknown as ViewConstructor) {
    // slice(), map(), subarray()... make plain typed arrays: only the
    // array itself stands for the shared block.
    static get [Symbol.species](): TypedArrayConstructor {
      return Base;
    }

    static {
      registerReducer(Shared, {
        tag: `SharedArray.${Base.name}`,
        reduce: (a): ArrayState => {
          const m = meta.get(a)!;
          return { typecode: m.typecode, block: m.block.handle(), length: (a as Int8Array).length, lock: m.lock };
        },
        rebuild: (s) => {
          const state = s as ArrayState;
          const info = typeInfo(state.typecode);
          if (!Number.isSafeInteger(state.length) || state.length < 0) {
            throw new PicklingError(`Shared array length must be an integer >= 0, got ${state.length}`, "length");
          }
          // The block must hold every element: a forged length would view the blocks after it.
          return view(info, attach(state.block, Math.max(1, state.length * info.bytes)), state.length, state.lock);
        },
      });
    }
  };
  Object.defineProperty(cls, "name", { value: `Shared${Base.name}` });
  classes.set(Base, cls);
  return cls;
}

/** The shared typed array over `block`. */
function view(info: TypeInfo, block: Block, length: number, lock: Lock | RLock | undefined): ArrayBufferView {
  const array = new (sharedClass(info.ctor))(block.buffer, block.byteOffset, length);
  meta.set(array, { typecode: info.code, block, lock });
  if (lock !== undefined) {
    Object.defineProperty(array, "getLock", { value: () => lock, enumerable: false });
  }
  return array;
}

/** Checks the typecode and initial contents; returns the elements (or the length). */
function contents(info: TypeInfo, init: unknown): { length: number; elements: (number | bigint)[] | undefined } {
  if (typeof init === "number") {
    if (!Number.isSafeInteger(init) || init < 0) {
      throw new RangeError(`Array size must be an integer >= 0, got ${init}`);
    }
    return { length: init, elements: undefined };
  }
  if (typeof init === "string") {
    if (info.code !== "c") {
      throw new TypeError(
        `Only a typecode "c" Array is initialised from a string; for "${info.code}" give a size or numbers`,
      );
    }
    const bytes = Buffer.from(init, "utf8");
    return { length: bytes.length, elements: Array.from(bytes) };
  }
  const iterable = init !== null && typeof init === "object" && (Symbol.iterator in init || "length" in init);
  if (!iterable) {
    throw new TypeError(`Array contents must be a size, or an iterable or array-like of values, got ${String(init)}`);
  }
  const values = Array.from(init as ArrayLike<unknown>);
  const elements = values.map((v, i) => toElement(info, v, `values[${i}]`));
  return { length: elements.length, elements };
}

function make(typecode: unknown, init: unknown, lockOf: () => Lock | RLock | undefined): ArrayBufferView {
  const info = typeInfo(typecode);
  const { length, elements } = contents(info, init);
  const lock = lockOf();
  // Handed out again once the array and every view of it (subarrays too) are garbage.
  const block = allocate(Math.max(1, length * info.bytes), { viewed: true });
  const array = view(info, block, length, lock);
  if (elements !== undefined) (array as unknown as { set(v: ArrayLike<number | bigint>): void }).set(elements);
  return array;
}

/**
 * A typed array over shared memory, without a lock (Python: `RawArray`).
 * @param typecode one of `b B h H i I l L q Q f d c`
 * @param sizeOrValues a length (zero-filled), the initial values, or for `c` a string
 * @throws TypeError or RangeError for a bad typecode or initial values, naming what is valid
 * @example
 * const grid = RawArray("d", 1024); // a Float64Array over shared memory
 */
export function RawArray<C extends Typecode>(typecode: C, sizeOrValues: ArrayInit): SharedTypedArray<C> {
  return make(typecode, sizeOrValues, () => undefined) as SharedTypedArray<C>;
}

/**
 * A typed array over shared memory with a lock, a new RLock unless `lock` is
 * false or a given Lock/RLock (Python: `Array(typecode, size_or_init, lock=True)`).
 * Elements are read and written directly (no lock per element): hold
 * `getLock()` around a read-modify-write that others may race with.
 * @throws TypeError or RangeError for a bad typecode, initial values or lock
 * @example
 * const arr = Array("i", [1, 2, 3]);
 * using _ = arr.getLock().holdSync();
 * arr[0] += 1;
 */
export function SharedArray<C extends Typecode>(
  typecode: C,
  sizeOrValues: ArrayInit,
  opts?: { lock?: true | Lock | RLock },
): SynchronizedTypedArray<C>;
export function SharedArray<C extends Typecode>(
  typecode: C,
  sizeOrValues: ArrayInit,
  opts: { lock: false },
): SharedTypedArray<C>;
export function SharedArray<C extends Typecode>(
  typecode: C,
  sizeOrValues: ArrayInit,
  opts?: SharedOptions,
): SharedTypedArray<C> | SynchronizedTypedArray<C>;
export function SharedArray<C extends Typecode>(
  typecode: C,
  sizeOrValues: ArrayInit,
  opts?: SharedOptions,
): SharedTypedArray<C> | SynchronizedTypedArray<C> {
  return make(typecode, sizeOrValues, () => resolveLock(opts)) as SynchronizedTypedArray<C>;
}

// Every class exists (and has its reducer) from the start: a child must be
// able to rebuild an array of any typecode before it makes one itself.
for (const code of TYPECODES.split(" ")) sharedClass(typeInfo(code).ctor);

/** Whether `value` is an array made by `Array`/`RawArray` (over shared memory). */
export function isSharedArray(value: unknown): boolean {
  return typeof value === "object" && value !== null && meta.has(value);
}
