/**
 * ShareableList: a fixed-length list in one SharedMemory segment, laid out
 * exactly as Python's `multiprocessing.shared_memory.ShareableList` (3.8 to
 * 3.13), so either side reads the other's. All numbers little-endian (Python
 * packs in native order; every platform we run on is little-endian):
 *
 *   0               q      N, the number of items
 *   8               q×N+1  offset of each item's slot in the data area (the last: its end)
 *   D = 8·(N+2)     ...    the data area: one slot per item, each a multiple of 8 bytes
 *   P = D+off[N]    8s×N   each item's struct format, NUL-padded: "q", "d",
 *                          "xxxxxxx?" (bool), "xxxxxx?x" (None), "<n>s" (str/bytes)
 *   P+8N            b×N    each item's back transform: 0 as is, 1 str (utf-8), 2 bytes, 3 None
 *
 * A slot holds: `q` an int64, `d` a float64, a bool in its 8th byte, None as
 * a 0 in its 7th; a str or bytes its bytes, NUL-padded (trailing NULs are
 * dropped on reading, as in Python). A slot's size never changes.
 */
import { registerReducer } from "../codec/reducers.ts";
import { SharedMemory } from "./shared-memory.ts";

/** What a ShareableList holds: whole numbers (`q`), other numbers (`d`), bigints (`q`), booleans, strings, bytes, null. */
export type ShareableValue = number | bigint | boolean | string | Uint8Array | null;

const WORD = 8;
const BOOL = "xxxxxxx?";
const NONE = "xxxxxx?x";
/** Python's `_back_transforms_mapping` codes. */
const Back = { VALUE: 0, STR: 1, BYTES: 2, NONE: 3 } as const;
/** A `<n>s` format must fit its 8-byte field: at most 7 digits. */
const MAX_SLOT = 9_999_999;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A value's struct format, its back-transform code and (for str/bytes) its bytes. */
interface Encoded {
  format: string;
  code: number;
  bytes?: Uint8Array;
}

/** Python's int64 range check, for numbers that go in a `q` slot. */
function isInt64(v: number): boolean {
  return Number.isInteger(v) && !Object.is(v, -0) && v >= -(2 ** 63) && v < 2 ** 63;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (typeof v === "object" && v !== null) return v.constructor?.name ?? "object";
  return String(v);
}

/**
 * The format and code of `v` (Python: `_types_mapping` and `_extract_recreation_code`).
 * @throws TypeError for a value no slot can hold; RangeError for a bigint outside int64
 */
function encode(v: unknown): Encoded {
  if (typeof v === "number") return { format: isInt64(v) ? "q" : "d", code: Back.VALUE };
  if (typeof v === "bigint") {
    if (v < INT64_MIN || v > INT64_MAX) {
      throw new RangeError(`ShareableList item ${v}n does not fit a 64-bit signed integer`);
    }
    return { format: "q", code: Back.VALUE };
  }
  if (typeof v === "boolean") return { format: BOOL, code: Back.VALUE };
  if (v === null) return { format: NONE, code: Back.NONE };
  if (typeof v === "string") return { format: "s", code: Back.STR, bytes: encoder.encode(v) };
  if (v instanceof Uint8Array) return { format: "s", code: Back.BYTES, bytes: v };
  throw new TypeError(
    `ShareableList items must be numbers, bigints, booleans, strings, Uint8Arrays or null, got ${describe(v)}`,
  );
}

/** Python's slot size for a str or bytes: the next multiple of 8 above its length (by utf-8 bytes here; see README). */
function slotFor(bytes: Uint8Array): number {
  const size = WORD * (Math.floor(bytes.length / WORD) + 1);
  if (size > MAX_SLOT) {
    throw new RangeError(
      `ShareableList item of ${bytes.length} bytes is too long: a slot holds at most ${MAX_SLOT - 1}`,
    );
  }
  return size;
}

/** Whether two items are equal for `count` and `index` (numbers and bigints by value, bytes by content). */
function same(a: ShareableValue, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  if ((typeof a === "number" || typeof a === "bigint") && (typeof b === "number" || typeof b === "bigint")) {
    // biome-ignore lint/suspicious/noDoubleEquals: 1 == 1n, as Python's 1 == 1.0
    return a == b;
  }
  return a === b;
}

/** Options of `new ShareableList`. */
export interface ShareableListOptions {
  /** The segment's name: attach to it when no items are given, else create it under that name. */
  name?: string;
}

/**
 * A fixed-length list of numbers, bigints, booleans, strings, bytes and
 * nulls in shared memory (Python: `ShareableList`). Each slot keeps its size:
 * a longer string in a slot is a RangeError. Python's `ShareableList(name=...)`
 * reads ours and the other way round.
 *
 * @example
 * ```ts
 * const sl = new ShareableList([1, 2.5, "text", null]);
 * sl.set(0, 10);
 * const same = new ShareableList(null, { name: sl.shm.name }); // in any process
 * same.get(-2); // "text"
 * ```
 */
export class ShareableList implements Iterable<ShareableValue> {
  readonly #shm: SharedMemory;
  readonly #view: DataView;
  readonly #length: number;
  /** Slot offsets in the data area, N+1 of them. */
  readonly #offsets: number[];

  /**
   * Creates a list of `items` in a new segment (named `opts.name` if given),
   * or, with `items` null, attaches to the list named `opts.name`.
   * @throws TypeError for an item no slot can hold; RangeError for a bigint outside int64 or an item too long
   * @throws SharedMemoryError with `code` "ENOENT" / "EEXIST" as SharedMemory
   * @throws RangeError when the named segment does not hold a ShareableList
   */
  constructor(items?: Iterable<ShareableValue> | null, opts: ShareableListOptions = {}) {
    if (items === null || items === undefined) {
      if (opts.name !== undefined) {
        this.#shm = new SharedMemory({ name: opts.name });
        this.#view = new DataView(this.#shm.buf.buffer, this.#shm.buf.byteOffset, this.#shm.size);
        try {
          [this.#length, this.#offsets] = this.#readHeader();
        } catch (error) {
          this.#shm.close();
          throw error;
        }
        return;
      }
      items = [];
    }
    if (typeof (items as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw new TypeError(`ShareableList items must be iterable or null, got ${describe(items)}`);
    }
    const values = [...items];
    const encoded = values.map(encode);
    const offsets = [0];
    for (const e of encoded) offsets.push(offsets.at(-1)! + (e.bytes === undefined ? WORD : slotFor(e.bytes)));
    for (const e of encoded) if (e.bytes !== undefined) e.format = `${slotFor(e.bytes)}s`;
    const n = values.length;
    const size = WORD * (n + 2) + offsets[n]! + WORD * n + n;
    this.#shm = new SharedMemory({ create: true, size, ...(opts.name !== undefined && { name: opts.name }) });
    this.#view = new DataView(this.#shm.buf.buffer, this.#shm.buf.byteOffset, this.#shm.size);
    this.#length = n;
    this.#offsets = offsets;
    this.#view.setBigInt64(0, BigInt(n), true);
    for (let i = 0; i <= n; i++) this.#view.setBigInt64(WORD * (i + 1), BigInt(offsets[i]!), true);
    for (let i = 0; i < n; i++) this.#write(i, values[i]!, encoded[i]!);
  }

  /** N and the slot offsets of an attached segment, each checked against its size. */
  #readHeader(): [number, number[]] {
    const size = this.#shm.size;
    const bad = (why: string): never => {
      throw new RangeError(`Shared memory segment "${this.#shm.name}" does not hold a ShareableList: ${why}`);
    };
    if (size < 2 * WORD) bad(`it has only ${size} bytes`);
    const n = Number(this.#view.getBigInt64(0, true));
    if (n < 0 || WORD * (n + 2) + 9 * n > size) bad(`its item count ${n} does not fit its ${size} bytes`);
    const offsets: number[] = [];
    for (let i = 0; i <= n; i++) {
      const o = Number(this.#view.getBigInt64(WORD * (i + 1), true));
      if (o < (offsets.at(-1) ?? 0) || (i === 0 && o !== 0)) bad(`slot offset ${i} is ${o}`);
      offsets.push(o);
    }
    if (WORD * (n + 2) + offsets[n]! + 9 * n > size) bad(`its slots end past its ${size} bytes`);
    return [n, offsets];
  }

  get #dataStart(): number {
    return WORD * (this.#length + 2);
  }

  get #formatsStart(): number {
    return this.#dataStart + this.#offsets[this.#length]!;
  }

  /** `i`, or `i` counted from the end when negative. @throws RangeError out of range */
  #position(i: number, doing: string): number {
    if (!Number.isInteger(i)) throw new TypeError(`ShareableList index must be an integer, got ${describe(i)}`);
    const at = i < 0 ? i + this.#length : i;
    if (at < 0 || at >= this.#length) {
      throw new RangeError(`ShareableList ${doing} index ${i} is out of range for length ${this.#length}`);
    }
    return at;
  }

  #format(at: number): string {
    const start = this.#formatsStart + WORD * at;
    const raw = this.#shm.buf.subarray(start, start + WORD);
    const end = raw.indexOf(0);
    return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
  }

  #write(at: number, value: ShareableValue, e: Encoded): void {
    const fieldStart = this.#formatsStart + WORD * at;
    const buf = this.#shm.buf;
    buf.fill(0, fieldStart, fieldStart + WORD);
    encoder.encodeInto(e.format, buf.subarray(fieldStart, fieldStart + WORD));
    this.#view.setInt8(this.#formatsStart + WORD * this.#length + at, e.code);
    const slot = this.#dataStart + this.#offsets[at]!;
    if (e.bytes !== undefined) {
      const width = Number.parseInt(e.format, 10);
      buf.fill(0, slot, slot + width);
      buf.set(e.bytes, slot);
    } else if (e.format === "q") {
      this.#view.setBigInt64(slot, BigInt(value as number | bigint), true);
    } else if (e.format === "d") {
      this.#view.setFloat64(slot, value as number, true);
    } else {
      // "xxxxxxx?": pad bytes then the bool; "xxxxxx?x": None packs as False in byte 7 of 8.
      buf.fill(0, slot, slot + WORD);
      if (e.format === BOOL && value === true) buf[slot + 7] = 1;
    }
  }

  /**
   * The item at `i` (negative: from the end). A `q` slot reads as a number
   * when it is a safe integer, else as a bigint.
   * @throws RangeError out of range, or for a slot whose format this library does not know
   */
  get(i: number): ShareableValue {
    const at = this.#position(i, "get");
    const format = this.#format(at);
    const code = this.#view.getInt8(this.#formatsStart + WORD * this.#length + at);
    const slot = this.#dataStart + this.#offsets[at]!;
    if (code === Back.NONE) return null;
    if (format === "q") {
      const v = this.#view.getBigInt64(slot, true);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    if (format === "d") return this.#view.getFloat64(slot, true);
    if (format === BOOL) return this.#view.getUint8(slot + 7) !== 0;
    const width = /^\d+s$/.test(format) ? Number.parseInt(format, 10) : -1;
    if (width < 0 || this.#offsets[at]! + width > this.#offsets[this.#length]!) {
      throw new RangeError(`ShareableList slot ${at} has an unknown format ${JSON.stringify(format)}`);
    }
    let bytes = this.#shm.buf.subarray(slot, slot + width);
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    bytes = bytes.subarray(0, end);
    return code === Back.STR ? decoder.decode(bytes) : bytes.slice();
  }

  /**
   * Stores `value` at `i` (negative: from the end). A string or bytes must
   * fit the slot's size, fixed when the list was made.
   * @throws RangeError out of range, or for a string or bytes longer than the slot; TypeError for a value no slot can hold
   */
  set(i: number, value: ShareableValue): void {
    const at = this.#position(i, "set");
    const e = encode(value);
    if (e.bytes !== undefined) {
      const allocated = this.#offsets[at + 1]! - this.#offsets[at]!;
      if (e.bytes.length > allocated) {
        throw new RangeError(
          `ShareableList item ${describe(value)} (${e.bytes.length} bytes) exceeds the ${allocated} bytes of slot ${at}`,
        );
      }
      const current = this.#format(at);
      e.format = current.endsWith("s") ? current : `${allocated}s`;
    }
    this.#write(at, value, e);
  }

  /** The number of items, fixed at creation (Python: `len`). */
  get length(): number {
    return this.#length;
  }

  /** How many items equal `value` (Python: `count`). */
  count(value: ShareableValue): number {
    let n = 0;
    for (const item of this) if (same(item, value)) n++;
    return n;
  }

  /**
   * The position of the first item equal to `value` (Python: `index`).
   * @throws RangeError when no item is
   */
  index(value: ShareableValue): number {
    let i = 0;
    for (const item of this) {
      if (same(item, value)) return i;
      i++;
    }
    throw new RangeError(`${describe(value)} is not in the ShareableList`);
  }

  /** The segment that holds the list (Python: `shm`). */
  get shm(): SharedMemory {
    return this.#shm;
  }

  /** The struct formats of all items, joined (Python: `format`), e.g. "qd8sxxxxxx?x". */
  get format(): string {
    let out = "";
    for (let i = 0; i < this.#length; i++) out += this.#format(i);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<ShareableValue> {
    for (let i = 0; i < this.#length; i++) yield this.get(i);
  }

  /** Closes the segment (never unlinks it). */
  [Symbol.dispose](): void {
    this.#shm.close();
  }

  /** Python's repr: `ShareableList([1, 'a'], name='psm_1a2b3c4d')`. */
  toString(): string {
    const items = [...this].map((v) =>
      v === null
        ? "None"
        : typeof v === "boolean"
          ? v
            ? "True"
            : "False"
          : typeof v === "string"
            ? `'${v}'`
            : v instanceof Uint8Array
              ? `b'${Buffer.from(v).toString("latin1")}'`
              : String(v),
    );
    return `ShareableList([${items.join(", ")}], name='${this.#shm.name}')`;
  }

  static {
    registerReducer(ShareableList, {
      tag: "ShareableList",
      // By name, as Python's __reduce__ (`partial(ShareableList, name=...)`).
      reduce: (list) => ({ name: list.#shm.name }),
      rebuild: (state) => new ShareableList(null, { name: (state as { name: string }).name }),
    });
  }
}
