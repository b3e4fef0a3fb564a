/**
 * @multiproc/backend-fork: each child is a real fork(2) of the running
 * process (Python's "fork" start method): it runs its target on a copy of the
 * parent's memory as it was at `start()`, so any function is a valid target,
 * closures included, and arguments need not be sendable. See docs/fork.md
 * for what works in a fork child.
 *
 * @module @multiproc/backend-fork
 */
import type { Backend } from "@multiproc/core";
import { registerBackend } from "@multiproc/core/internal";
import { launch } from "./launch.ts";

export { lastChildTrace, TRACE_STEPS, type TraceStep } from "./fault-trace.ts";
export { startRetries } from "./launch.ts";

/** The fork backend. */
export const backend: Backend = {
  name: "fork",
  capabilities: { available: process.platform === "linux", inheritsMemory: true, separateProcess: true },
  launch,
};

registerBackend(backend);
