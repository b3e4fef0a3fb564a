/**
 * A process's minor page faults (getrusage), the steadier measure of what a
 * fork child costs: each one is a page the child copied or mapped again
 * (about 3 µs here), where timings swing with the machine's load.
 */
import { ptr } from "bun:ffi";
import { fail, libc } from "./libc.ts";

const RUSAGE_SELF = 0;
const RUSAGE_CHILDREN = -1;
/** Offset of ru_minflt in struct rusage (two timevals, then longs: maxrss, ixrss, idrss, isrss, minflt). */
const MINFLT_AT = 64 / 8;

// Allocated once (and touched in the parent): a fork child counting its own
// faults must not allocate to do so.
const usage = new BigInt64Array(18);

/**
 * Minor faults of this process so far (`"self"`), or of all its reaped
 * children together (`"children"`, Python's `resource.RUSAGE_CHILDREN`).
 */
export function minorFaults(who: "self" | "children"): number {
  if (libc.getrusage(who === "self" ? RUSAGE_SELF : RUSAGE_CHILDREN, ptr(usage)) !== 0) fail("getrusage");
  return Number(usage[MINFLT_AT]);
}
