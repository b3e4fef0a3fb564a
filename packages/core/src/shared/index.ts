/** Shared memory: the arena every synchronization primitive and shared value is carved from, and Value/Array over it. */
export type { SharedOptions } from "./_lock-option.ts";
export { attach, Block, type BlockHandle, segmentFds } from "./arena.ts";
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
