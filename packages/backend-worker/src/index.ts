/**
 * @multiproc/backend-worker: each child is a Bun Worker thread that imports the
 * target's module afresh in its own realm, like spawn but in this process.
 *
 * @module @multiproc/backend-worker
 */
import type { Backend } from "@multiproc/core";
import { native, registerBackend } from "@multiproc/core/internal";
import { launch } from "./launch.ts";

/** The worker backend. Needs Linux 6.9+ (a pidfd per thread is each child's sentinel). */
export const backend: Backend = {
  name: "worker",
  capabilities: { available: native.threadPidfdSupported(), inheritsMemory: false, separateProcess: false },
  launch,
};

registerBackend(backend);
