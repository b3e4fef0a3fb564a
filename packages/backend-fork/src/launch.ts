/**
 * The fork backend's parent side (Python: `popen_fork.Popen._launch`):
 * re-mark the mappings the runtime hides from children, fork, and hand back
 * a `ForkedChild`. The child branch goes to `child-main.ts` and never returns.
 */
import type { ChildHandle, InheritedLaunch, LaunchRequest } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import {
  becomeChild,
  childPlan,
  inheritedDescriptors,
  prepareChild,
  restoreParent,
  swapInNextChild,
  testHooks,
  warmUpChildPath,
} from "./child-main.ts";
import { clearTrace } from "./fault-trace.ts";
import { ForkedChild } from "./forked-child.ts";
import { beforeFork, forkMayHang } from "./hazards.ts";
import { releaseSlot, type StartSlot, takeSlot, waitStarted } from "./start-flags.ts";

/** How long a child may take to announce its start before the supervisor reports and kills it. */
export const DEFAULT_START_TIMEOUT_MS = 5000;

function startTimeout(): number {
  const raw = process.env.MULTIPROC_FORK_START_TIMEOUT_MS;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_START_TIMEOUT_MS;
}

/** Forks before giving up on children that get stuck on their way in. */
const START_ATTEMPTS = 3;
/**
 * Longest wait in `start()` for the child's announcement (ms): normally it
 * comes within a millisecond; a child still silent then (a loaded machine)
 * is left to the supervisor.
 */
const START_WAIT_MS = 250;

let retries = 0;

/** How many children were forked again because the first one got stuck on its way in (see `launch`). */
export function startRetries(): number {
  return retries;
}

/**
 * Forks the calling process; the child runs `request.runInChild()` and ends.
 *
 * Without the JSC settings, or while Worker threads run in this process
 * (docs/fork.md, "Hangs"), a child can get stuck on a runtime lock whose
 * holder is a thread only the parent has. Then this returns only once the
 * child announced its start (or after START_WAIT_MS, when the supervisor
 * takes over): a child found asleep on a lock before that has not run any of
 * the user's code yet, so it is killed and the fork done again, with the
 * parent's memory still as it was when `start()` was called. Otherwise no
 * such hang is known (none in about 30 000 forks), and waiting would cost
 * every `start()` the child's set-up time (about 2 ms), so it returns at once.
 */
export function launch(request: LaunchRequest): ChildHandle {
  if (request.code !== "inherited") {
    throw new BackendError(`The fork backend inherits memory: ${request.name} came as a "${request.code}" launch`);
  }
  const timeout = startTimeout();
  beforeFork();
  const checking = forkMayHang() || testHooks.checkStart;
  for (let attempt = 1; ; attempt++) {
    const child = forkOnce(request, checking);
    const forkedAt = performance.now();
    const stuck =
      checking &&
      waitStarted(
        child.slot,
        child.pid,
        child.pidfd,
        forkedAt + Math.min(timeout, testHooks.startWaitMs ?? START_WAIT_MS),
      ) === "stuck";
    if (stuck && attempt < START_ATTEMPTS) {
      discard(child);
      retries++;
      continue;
    }
    // Late, or stuck for the last time: the supervisor and the parked check take over.
    return new ForkedChild({ ...child, name: request.name, startTimeout: timeout, forkedAt });
  }
}

interface Forked {
  readonly pid: number;
  readonly pidfd: number;
  readonly slot: StartSlot;
}

/**
 * Forks once. The child's system-call set-up runs natively when `cc` is
 * usable (`native.forkWithSetup`), else in JavaScript (child-main.ts). The
 * native code announces the start too, unless the parent checks starts
 * (`checking`): then the announcement must come after the child's
 * JavaScript set-up, where a child gets stuck, and wake the waiting parent.
 */
function forkOnce(request: InheritedLaunch, checking: boolean): Forked {
  const slot = takeSlot();
  warmUpChildPath(slot);
  prepareChild();
  const nativeSetup = !testHooks.javascriptSetup && native.nativeForkReady();
  // The native set-up plans the isolation itself, in C, right before fork(2).
  const isolation = nativeSetup ? undefined : native.planIsolation();
  const parentPid = native.realPid();
  clearTrace();
  native.markAllForkable();
  // A waker thread caught running JavaScript during fork(2) could hold a
  // runtime lock the child (which has only this thread) would wait on forever.
  const resumeWaker = native.pauseWaker();
  const announce = nativeSetup && !checking && !testHooks.hangBeforeStart && testHooks.stuckChildren === 0;
  // Made here, not in the child: its first object of this shape would make the shape there too (#23).
  const plan = childPlan(slot, parentPid, isolation ?? native.EMPTY_PLAN, nativeSetup, announce);
  // Read here, on the parent's way too: the child's branch below then reads no
  // binding the parent's optimized code never saw, which made it bail out in
  // every child (an OSR exit, 30 more faults a child once this was optimized, #23).
  const childMain = becomeChild;
  let pid: number;
  swapInNextChild(request.name);
  try {
    pid = nativeSetup
      ? native.forkWithSetup({
          isolation,
          close: inheritedDescriptors(),
          daemon: request.daemon,
          parentPid,
          announceAt: announce ? slot.address : 0,
        })
      : native.forkProcess();
  } catch (error) {
    restoreParent();
    resumeWaker();
    releaseSlot(slot);
    throw new BackendError(`Cannot fork ${request.name}: ${(error as Error).message}`, { cause: error });
  }
  // The child keeps the globals swapped in; the parent gets its own back before anything else runs.
  if (pid !== 0) restoreParent();
  if (pid === 0) childMain(request, plan);
  resumeWaker();
  if (testHooks.stuckChildren > 0) testHooks.stuckChildren--;
  // The child cannot be reaped by anyone else, so its pid stays valid for pidfd_open.
  const pidfd = native.pidfdOpen(pid);
  return { pid, pidfd, slot };
}

/** Kills and reaps a child stuck before it ran anything, and frees what it held. */
function discard(child: Forked): void {
  process.kill(child.pid, "SIGKILL");
  native.pollReadable(child.pidfd, 5000);
  native.reapChild(child.pidfd);
  native.closeQuietly(child.pidfd);
  releaseSlot(child.slot);
}
