/** Shared values: Value, Array, RawValue and RawArray over blocks of the arena (arena/). */
export type { SharedOptions } from "./_lock-option.ts";
export {
  type ArrayInit,
  isSharedArray,
  RawArray,
  SharedArray,
  type SharedTypedArray,
  type SynchronizedTypedArray,
} from "./array.ts";
export {
  type BigTypecode,
  type ElementOf,
  type InitOf,
  TYPECODES,
  type Typecode,
  type TypedArrayOf,
} from "./typecodes.ts";
export { RawValue, SharedValue, SynchronizedValue, Value } from "./value.ts";
