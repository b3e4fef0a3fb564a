/**
 * Where a fork child's minor faults come from (issue #23): with
 * `MULTIPROC_FORK_TRACE=1` in the environment, each child records its own
 * fault count (it starts at zero at the fork) after each step of its way in
 * and out, in a page shared with the parent; `lastChildTrace()` reads the
 * last child's figures there after it ended. Off by default, and then it
 * costs the child one check per step. Used by apps/bench/src/fork-faults.ts.
 */
import { native } from "@multiproc/core/internal";

/** The steps of a child's way in and out, in order. */
export const TRACE_STEPS = [
  "forked",
  "identity",
  "descriptors",
  "random",
  "signals",
  "loop",
  "globals",
  "announced",
  "target",
  "exit listeners",
] as const;

export type TraceStep = (typeof TRACE_STEPS)[number];

const slots = new Map<TraceStep, number>(TRACE_STEPS.map((s, i) => [s, i]));
const page: Float64Array | undefined =
  process.env.MULTIPROC_FORK_TRACE === "1"
    ? new Float64Array(native.createSegment(4096, "multiproc-fork-trace").buffer)
    : undefined;

/**
 * In a fork child: records the child's faults so far as those at the end of
 * `step`. With `dry` (in the parent) it reads them and records nothing: a
 * child that ran the read first would compile it, and its first step would
 * count ~150 faults no untraced child takes.
 */
export function traceStep(step: TraceStep, dry = false): void {
  if (page === undefined) return;
  const faults = native.minorFaults("self");
  if (!dry) page[slots.get(step)!] = faults;
}

/** In the parent, before a fork: forgets the previous child's figures. */
export function clearTrace(): void {
  page?.fill(Number.NaN);
}

/**
 * The cumulative minor faults of the last traced child at the end of each
 * step (NaN for a step it did not reach), or undefined when tracing is off.
 */
export function lastChildTrace(): Record<TraceStep, number> | undefined {
  if (page === undefined) return undefined;
  return Object.fromEntries(TRACE_STEPS.map((s, i) => [s, page[i]!])) as Record<TraceStep, number>;
}
