/**
 * The typecodes of shared values and arrays (Python's `array` module codes,
 * as `multiprocessing.sharedctypes` accepts them): which typed array holds
 * each one, and what values it accepts.
 */

/** A typecode: `b B h H i I l L q Q f d c`. `l L q Q` hold bigints; `c` is one byte (0–255). */
export type Typecode = "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "f" | "d" | "c";

/** The 64-bit typecodes, whose values are bigints. */
export type BigTypecode = "l" | "L" | "q" | "Q";

/** The JS type of one element of typecode C. */
export type ElementOf<C extends Typecode> = C extends BigTypecode ? bigint : number;

/** The typed array that holds elements of typecode C. */
export interface TypedArrayOf {
  b: Int8Array;
  B: Uint8Array;
  h: Int16Array;
  H: Uint16Array;
  i: Int32Array;
  I: Uint32Array;
  l: BigInt64Array;
  L: BigUint64Array;
  q: BigInt64Array;
  Q: BigUint64Array;
  f: Float32Array;
  d: Float64Array;
  c: Uint8Array;
}

/** What a new element of typecode C may be given as: bigints also as safe integers, `c` also as a one-byte string. */
export type InitOf<C extends Typecode> = C extends BigTypecode
  ? bigint | number
  : C extends "c"
    ? number | string
    : number;

/** A constructor of one of the typed arrays above. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** Everything known about one typecode. */
export interface TypeInfo {
  readonly code: Typecode;
  readonly ctor: TypedArrayConstructor;
  readonly bytes: number;
  /** "int": number in [min, max]; "bigint": bigint in [min, max]; "float": any number. */
  readonly kind: "int" | "bigint" | "float";
  readonly min: number | bigint;
  readonly max: number | bigint;
}

const int = (code: Typecode, ctor: TypedArrayConstructor, bits: number, signed: boolean): TypeInfo => ({
  code,
  ctor,
  bytes: bits / 8,
  kind: "int",
  min: signed ? -(2 ** (bits - 1)) : 0,
  max: signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1,
});
const big = (code: Typecode, ctor: TypedArrayConstructor, signed: boolean): TypeInfo => ({
  code,
  ctor,
  bytes: 8,
  kind: "bigint",
  min: signed ? -(2n ** 63n) : 0n,
  max: signed ? 2n ** 63n - 1n : 2n ** 64n - 1n,
});

const table: Record<Typecode, TypeInfo> = {
  b: int("b", Int8Array, 8, true),
  B: int("B", Uint8Array, 8, false),
  h: int("h", Int16Array, 16, true),
  H: int("H", Uint16Array, 16, false),
  i: int("i", Int32Array, 32, true),
  I: int("I", Uint32Array, 32, false),
  // Python's C long is 64 bits on Linux and macOS.
  l: big("l", BigInt64Array, true),
  L: big("L", BigUint64Array, false),
  q: big("q", BigInt64Array, true),
  Q: big("Q", BigUint64Array, false),
  f: { code: "f", ctor: Float32Array, bytes: 4, kind: "float", min: -Infinity, max: Infinity },
  d: { code: "d", ctor: Float64Array, bytes: 8, kind: "float", min: -Infinity, max: Infinity },
  c: int("c", Uint8Array, 8, false),
};

/** Every valid typecode, as listed in error messages. */
export const TYPECODES = Object.keys(table).join(" ");

/**
 * The description of `code`.
 * @throws TypeError naming the valid typecodes when `code` is not one
 */
export function typeInfo(code: unknown): TypeInfo {
  if (typeof code === "string" && Object.hasOwn(table, code)) return table[code as Typecode];
  const shown = typeof code === "string" ? JSON.stringify(code) : String(code);
  throw new TypeError(`Bad typecode ${shown}: must be one of ${TYPECODES}`);
}

/** What a typecode accepts, for error messages. */
function expected(info: TypeInfo): string {
  if (info.kind === "float") return "a number";
  const range = `from ${info.min} to ${info.max}`;
  if (info.kind === "bigint") return `a bigint (or a safe integer) ${range}`;
  return info.code === "c" ? `a byte ${range} or a one-byte string` : `an integer ${range}`;
}

/**
 * Checks one initial element and converts it to what the typed array stores.
 * @param what the element's name in the message, e.g. `initial value` or `values[3]`
 * @throws TypeError or RangeError saying what typecode `info` accepts
 */
export function toElement(info: TypeInfo, value: unknown, what: string): number | bigint {
  const bad = (Err: typeof TypeError) =>
    new Err(`Bad ${what} for typecode "${info.code}": expected ${expected(info)}, got ${describe(value)}`);
  if (info.kind === "float") {
    if (typeof value !== "number") throw bad(TypeError);
    return value;
  }
  let n: number | bigint;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isInteger(value)) n = value;
  else if (info.code === "c" && typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    if (bytes.length !== 1) throw bad(TypeError);
    return bytes[0]!;
  } else throw bad(TypeError);
  if (info.kind === "bigint") {
    if (typeof n === "number" && !Number.isSafeInteger(n)) throw bad(RangeError);
    const b = BigInt(n);
    if (b < (info.min as bigint) || b > (info.max as bigint)) throw bad(RangeError);
    return b;
  }
  if (n < info.min || n > info.max) throw bad(RangeError);
  return Number(n);
}

/**
 * Converts a value assigned to an existing element: the type is checked, and
 * then the typed array's own conversion applies (integers wrap, as C does).
 * @throws TypeError for a value of the wrong type
 */
export function toStored(info: TypeInfo, value: unknown): number | bigint {
  if (info.kind === "bigint") {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  } else if (typeof value === "number") {
    return value;
  } else if (info.code === "c" && typeof value === "string") {
    return toElement(info, value, "value");
  }
  throw new TypeError(`Bad value for typecode "${info.code}": expected ${expected(info)}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return String(value);
  if (Array.isArray(value)) return "an array";
  const name = (value as object).constructor?.name;
  return name === undefined || name === "Object" ? "an object" : `a ${name}`;
}
