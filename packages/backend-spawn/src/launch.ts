/**
 * The spawn backend's parent side (Python: `popen_spawn_posix`): the child
 * runs in the spare process (core's `Spare`: a `bun` running `entry.ts` that
 * has loaded core's child side and waits for its start message) or, when
 * there is none, in a new one. Then the next spare is made, at once or once
 * this child has ended.
 */
import type { ChildHandle, LaunchRequest } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { Spare } from "@multiproc/core/internal";
import { prepareProcess } from "./spawned-child.ts";

/** A `bun` process started ahead of need: it saves a child the 5-10 ms of starting Bun and loading core. */
const spare = new Spare(prepareProcess);

/** Starts a spawn child; its start message is sent before this returns. */
export function launch(request: LaunchRequest): ChildHandle {
  if (request.code !== "imported") {
    throw new BackendError(`The spawn backend imports the program: ${request.name} came as a "${request.code}" launch`);
  }
  let child = spare.take();
  if (child !== undefined) {
    try {
      child.begin(request.bootstrap, request.fds);
    } catch {
      child.dismiss(0); // it ended since it was looked at: a new process takes its place
      child = undefined;
    }
  }
  if (child === undefined) {
    child = prepareProcess();
    child.begin(request.bootstrap, request.fds);
  }
  spare.replace(child);
  return child;
}
