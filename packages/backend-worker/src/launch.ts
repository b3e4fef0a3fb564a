/**
 * The worker backend's parent side: the child runs in the spare Worker
 * (`spare.ts`) or, when there is none, in a new one; either way it gets the
 * bootstrap bytes and its descriptors as a start message. Then the next spare
 * is made, at once or once this child has ended. A worker child's
 * non-daemon children are made by the supervisor instead (supervisor.ts).
 */
import type { ChildHandle, LaunchRequest } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import { spare } from "./spare.ts";
import { SupervisedChild } from "./supervised-child.ts";
import { hasSupervisor } from "./supervisor.ts";
import { prepareWorker } from "./worker-child.ts";

/** Starts a worker child; the start message is copied before this returns. */
export function launch(request: LaunchRequest): ChildHandle {
  if (request.code !== "imported") {
    throw new BackendError(
      `The worker backend imports the program: ${request.name} came as a "${request.code}" launch`,
    );
  }
  if (native.inForkChild()) {
    // Measured: the Worker never starts there, and the fork child then cannot exit.
    throw new BackendError(
      `Cannot start ${request.name} on the worker backend inside a fork child: Bun runs no Worker threads there; use the spawn backend`,
    );
  }
  // Copies of the descriptors in the arguments: the parent may close its own right after start().
  const fds = request.fds.map((fd) => native.dupFd(fd));
  // A Worker made here would end with this worker: a non-daemon child must outlive it (#18 point 4).
  if (!Bun.isMainThread && !request.daemon && hasSupervisor()) return new SupervisedChild(request.bootstrap, fds);
  let child: ReturnType<typeof prepareWorker>;
  try {
    child = spare.take() ?? prepareWorker();
  } catch (error) {
    for (const fd of fds) native.closeFd(fd);
    throw error;
  }
  child.begin(request.bootstrap, fds);
  spare.replace(child);
  return child;
}
