/**
 * @multiproc/backend-worker: not built yet. Selecting it fails at `start()` with
 * a BackendError that says so; see the issue tracker (fork: #4, worker: #3).
 */
import type { Backend } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { registerBackend } from "@multiproc/core/internal";

/** The worker backend (not available yet). */
export const backend: Backend = {
  name: "worker",
  capabilities: { available: false, inheritsMemory: false, separateProcess: false },
  launch() {
    throw new BackendError(
      'The "worker" backend is not implemented yet; use getContext("spawn") or set MULTIPROC_BACKEND=spawn',
    );
  },
};

registerBackend(backend);
