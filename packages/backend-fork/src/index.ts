/**
 * @multiproc/backend-fork: not built yet. Selecting it fails at `start()` with
 * a BackendError that says so; see the issue tracker (fork: #4, worker: #3).
 */
import type { Backend } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { registerBackend } from "@multiproc/core/internal";

/** The fork backend (not available yet). */
export const backend: Backend = {
  name: "fork",
  capabilities: { available: false, inheritsMemory: true, separateProcess: true },
  launch() {
    throw new BackendError(
      'The "fork" backend is not implemented yet; use getContext("spawn") or set MULTIPROC_BACKEND=spawn',
    );
  },
};

registerBackend(backend);
