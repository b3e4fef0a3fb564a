/**
 * @multiproc/backend-spawn: each child is a fresh Bun process that imports the
 * target's module afresh (Python's "spawn" start method).
 *
 * @module @multiproc/backend-spawn
 */
import type { Backend } from "@multiproc/core";
import { registerBackend } from "@multiproc/core/internal";
import { launch } from "./launch.ts";

/** The spawn backend. */
export const backend: Backend = {
  name: "spawn",
  capabilities: { available: true, inheritsMemory: false, separateProcess: true },
  launch,
};

registerBackend(backend);
