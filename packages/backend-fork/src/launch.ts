/**
 * The fork backend's parent side (Python: `popen_fork.Popen._launch`):
 * re-mark the mappings the runtime hides from children, fork, and hand back
 * a `ForkedChild`. The child branch goes to `child-main.ts` and never returns.
 */
import type { ChildHandle, LaunchRequest } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import { becomeChild, warmUpChildPath } from "./child-main.ts";
import { ForkedChild } from "./forked-child.ts";
import { beforeFork } from "./hazards.ts";
import { takeSlot } from "./start-flags.ts";

/** How long a child may take to announce its start before the supervisor reports and kills it. */
export const DEFAULT_START_TIMEOUT_MS = 5000;

function startTimeout(): number {
  const raw = process.env.MULTIPROC_FORK_START_TIMEOUT_MS;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_START_TIMEOUT_MS;
}

/** Forks the calling process; the child runs `request.runInChild()` and ends. */
export function launch(request: LaunchRequest): ChildHandle {
  if (request.runInChild === undefined) {
    throw new BackendError("The fork backend needs LaunchRequest.runInChild (a backend that inherits memory)");
  }
  beforeFork();
  const slot = takeSlot();
  warmUpChildPath(slot);
  const isolation = native.planIsolation();
  const [pipeRead, pipeWrite] = native.makePipe();
  const parentPid = native.realPid();
  native.markAllForkable();
  // A waker thread caught running JavaScript during fork(2) could hold a
  // runtime lock the child (which has only this thread) would wait on forever.
  const resumeWaker = native.pauseWaker();
  let pid: number;
  try {
    pid = native.forkProcess();
  } catch (error) {
    resumeWaker();
    native.closeQuietly(pipeRead);
    native.closeQuietly(pipeWrite);
    throw new BackendError(`Cannot fork ${request.name}: ${(error as Error).message}`, { cause: error });
  }
  if (pid === 0) {
    native.closeQuietly(pipeRead);
    becomeChild(request, { exitPipe: pipeWrite, slot, parentPid, isolation });
  }
  resumeWaker();
  native.closeQuietly(pipeWrite);
  // The child cannot be reaped by anyone else, so its pid stays valid for pidfd_open.
  const pidfd = native.pidfdOpen(pid);
  return new ForkedChild({ pid, pidfd, pipe: pipeRead, slot, name: request.name, startTimeout: startTimeout() });
}
