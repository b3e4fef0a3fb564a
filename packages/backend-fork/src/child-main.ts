/**
 * The fork child's side (Python: the `pid == 0` branch of
 * `popen_fork._launch`): everything between fork() and `_exit`. The child
 * makes itself sound before any JavaScript awaits (its own pid, its own
 * event-loop descriptors, no access to the parent's sockets, fresh random
 * seeds, default signal actions, death with its parent for a daemon),
 * announces its start, runs the target on its own loop, and ends with
 * `_exit` after its exit listeners ran. It never returns into the parent's code.
 *
 * Speed: a child runs for the first time every function the parent never
 * ran, at several times the cost (compilation, copy-on-write faults of the
 * code it writes). So the parent plans what it can (`planIsolation`) and
 * runs the child's functions once ahead (`warmUpChildPath`).
 */
import { writeSync } from "node:fs";
import { setRandomSeed } from "bun:jsc";
import type { InheritedLaunch } from "@multiproc/core";
import { BackendError } from "@multiproc/core";
import { native, reportUncaught } from "@multiproc/core/internal";
import { installChildGlobals } from "./child-globals.ts";
import { reseedCryptoRandom } from "./child-random.ts";
import { ChildLoop } from "./child-loop.ts";
import { ChildSignals } from "./child-signals.ts";
import { traceStep } from "./fault-trace.ts";
import { markForkChild, parentDescriptors } from "./forked-child.ts";
import { forgetParentSlots, markStarted, slotDescriptors, type StartSlot } from "./start-flags.ts";

const SIGKILL = 9;
/** Exit code of a child whose own setup failed (BSD's EX_SOFTWARE). */
const SETUP_FAILED = 70;

/**
 * Test hooks: `hangBeforeStart` makes the next children hang before they
 * announce their start (supervisor tests); `stuckChildren` makes that many
 * next children park for good there instead, like a child stuck on a
 * runtime lock (`launch` counts it down, forking again); `checkStart` makes
 * `launch` check starts as it does without the JSC settings;
 * `javascriptSetup` makes children set themselves up in JavaScript, as they
 * do when bun:ffi's cc is unavailable.
 */
export const testHooks = { hangBeforeStart: false, stuckChildren: 0, checkStart: false, javascriptSetup: false };

/** This process's own write end of its exit pipe, if it is a fork child; its children must not keep it. */
let ownExitPipe = -1;

/** What the parent hands the child branch of `launch`. */
export interface ChildPlan {
  readonly exitPipe: number;
  readonly slot: StartSlot;
  readonly parentPid: number;
  readonly isolation: native.IsolationPlan;
  /** The child's system-call set-up was done natively (`native.forkWithSetup`): its JavaScript skips it. */
  readonly nativeSetup: boolean;
  /** The native set-up already announced the start. */
  readonly announced: boolean;
}

/**
 * The descriptors a new child closes first thing: its siblings' (pidfds,
 * exit pipes), this process's own exit pipe if it is a fork child itself,
 * and the start-flag pages' descriptors.
 */
export function inheritedDescriptors(): number[] {
  const fds = [...parentDescriptors, ...slotDescriptors()];
  if (ownExitPipe >= 0) fds.push(ownExitPipe);
  return fds;
}

/**
 * Makes the just-forked process its own: identity, loop, descriptors,
 * randomness, signals, parent death. With a native set-up only what lives in
 * JavaScript remains (caches of the thread id and of the parent's records).
 */
function makeSound(plan: ChildPlan, daemon: boolean, dry: boolean): void {
  if (dry) return;
  if (plan.nativeSetup) {
    const failure = native.childSetupFailure();
    if (failure !== undefined) throw new BackendError(`Native set-up of the fork child: ${failure}`);
  } else {
    // The runtime caches process.pid; everything (core's adopt(), block handles, users) must see ours.
    native.setOwnPid(native.realPid());
  }
  native.resetThreadId();
  markForkChild();
  traceStep("identity");
  if (!plan.nativeSetup) {
    native.applyIsolation(plan.isolation);
    for (const fd of inheritedDescriptors()) native.closeQuietly(fd);
  }
  parentDescriptors.clear();
  ownExitPipe = plan.exitPipe;
  forgetParentSlots();
  traceStep("descriptors");
  setRandomSeed(native.kernelRandom32());
  reseedCryptoRandom();
  traceStep("random");
  if (!plan.nativeSetup) {
    native.resetCaughtSignals();
    native.unblockAllSignals();
    // Python's rule: a daemon child ends with its parent (and stops here when
    // the parent is already gone); any other child lives on, re-parented.
    if (daemon && !native.dieWithParent(SIGKILL, plan.parentPid)) native.exitNow(1);
  }
  traceStep("signals");
}

function reportStuck(name: string): void {
  writeSync(
    2,
    `Process ${name}: its run() waits for something that never completes in a fork child: ` +
      "no timer or immediate of the child is pending. Runtime services driven by Bun's event loop or helper threads " +
      "(fetch, fs.promises, Bun.file().text(), Bun.spawn, sockets, dynamic import() of a module not loaded yet, " +
      "Atomics.waitAsync) do not run in a fork child: use their synchronous forms, or the spawn backend. " +
      "See docs/fork.md of multiproc.\n",
  );
}

/**
 * Runs in the child right after fork and never returns: the child ends
 * through `_exit` with the exit code of `request.runInChild()`. With `dry`
 * (in the parent, see `warmUpChildPath`) it only compiles itself and returns.
 */
export function becomeChild(request: InheritedLaunch, plan: ChildPlan, dry = false): never {
  const runInChild = request.runInChild;
  let finishing = false;
  const finish = (code: number): never => {
    if (!finishing) {
      finishing = true;
      try {
        process.emit("exit", code);
      } catch (error) {
        reportUncaught(request.name, error);
        code = 1;
      }
    }
    traceStep("exit listeners");
    // Standard output and error were written synchronously: nothing is left in a buffer.
    native.exitNow(code);
  };
  try {
    if (!dry) traceStep("forked");
    makeSound(plan, request.daemon, dry);
    if (dry) return undefined as never;
    const signals = new ChildSignals();
    const loop = new ChildLoop((error) => {
      reportUncaught(request.name, error);
      finish(1);
    }, signals);
    traceStep("loop");
    installChildGlobals(loop, finish);
    traceStep("globals");
    while (testHooks.hangBeforeStart) Bun.sleepSync(1000);
    // As a runtime lock does: a private futex wait with no timeout.
    if (testHooks.stuckChildren > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    if (!plan.announced) markStarted(plan.slot);
    traceStep("announced");
    let code: number | undefined;
    runInChild().then(
      (c) => {
        code = c;
      },
      (error: unknown) => {
        reportUncaught(request.name, error);
        code = 1;
      },
    );
    const outcome = loop.run(() => code !== undefined);
    traceStep("target");
    if (outcome === "stuck") {
      reportStuck(request.name);
      return finish(1);
    }
    return finish(code ?? 1);
  } catch (error) {
    if (dry) throw error;
    try {
      writeSync(
        2,
        `multiproc: fork child ${request.name} failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
    } finally {
      native.exitNow(SETUP_FAILED);
    }
  }
}

let warm = false;

/**
 * Runs the child's path once in the parent, harmlessly, so every child
 * inherits it compiled instead of compiling it again (measured: about 2 ms
 * less per child).
 */
export function warmUpChildPath(slot: StartSlot): void {
  if (warm) return;
  warm = true;
  native.installPidGetter();
  const plan: ChildPlan = {
    exitPipe: -1,
    slot,
    parentPid: process.pid,
    isolation: native.EMPTY_PLAN,
    nativeSetup: false,
    announced: false,
  };
  const warmUp = { code: "inherited", name: "warm-up", daemon: false, runInChild: async () => 0, fds: [] } as const;
  becomeChild(warmUp, plan, true);
  native.applyIsolation(native.EMPTY_PLAN);
  const loop = new ChildLoop(() => {});
  let done = false;
  loop.setTimeout(() => {
    done = true;
  }, 0);
  loop.setImmediate(() => {});
  loop.run(() => done);
}
