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
import { native, reportUncaught } from "@multiproc/core/internal";
import { installChildGlobals } from "./child-globals.ts";
import { reseedCryptoRandom } from "./child-random.ts";
import { ChildLoop } from "./child-loop.ts";
import { ChildSignals } from "./child-signals.ts";
import { traceStep } from "./fault-trace.ts";
import { markForkChild, parentDescriptors } from "./forked-child.ts";
import { forgetParentSlots, markStarted, type StartSlot } from "./start-flags.ts";

const SIGKILL = 9;
/** Exit code of a child whose own setup failed (BSD's EX_SOFTWARE). */
const SETUP_FAILED = 70;

/**
 * Test hooks: `hangBeforeStart` makes the next children hang before they
 * announce their start (supervisor tests); `stuckChildren` makes that many
 * next children park for good there instead, like a child stuck on a
 * runtime lock (`launch` counts it down, forking again); `checkStart` makes
 * `launch` check starts as it does without the JSC settings.
 */
export const testHooks = { hangBeforeStart: false, stuckChildren: 0, checkStart: false };

/** This process's own write end of its exit pipe, if it is a fork child; its children must not keep it. */
let ownExitPipe = -1;

/** What the parent hands the child branch of `launch`. */
export interface ChildPlan {
  readonly exitPipe: number;
  readonly slot: StartSlot;
  readonly parentPid: number;
  readonly isolation: native.IsolationPlan;
}

/** Makes the just-forked process its own: identity, loop, descriptors, randomness, signals, parent death. */
function makeSound(plan: ChildPlan, daemon: boolean, dry: boolean): void {
  const pid = dry ? process.pid : native.realPid();
  // The runtime caches process.pid; everything (core's adopt(), block handles, users) must see ours.
  Object.defineProperty(process, "pid", { value: pid, configurable: true, writable: true, enumerable: true });
  if (dry) return;
  native.resetThreadId();
  markForkChild();
  traceStep("identity");
  native.applyIsolation(plan.isolation);
  for (const fd of parentDescriptors) native.closeQuietly(fd);
  parentDescriptors.clear();
  if (ownExitPipe >= 0) native.closeQuietly(ownExitPipe);
  ownExitPipe = plan.exitPipe;
  forgetParentSlots();
  traceStep("descriptors");
  setRandomSeed(native.kernelRandom32());
  reseedCryptoRandom();
  traceStep("random");
  native.resetCaughtSignals();
  native.unblockAllSignals();
  // Python's rule: a daemon child ends with its parent (and stops here when
  // the parent is already gone); any other child lives on, re-parented.
  if (daemon && !native.dieWithParent(SIGKILL, plan.parentPid)) native.exitNow(1);
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
    markStarted(plan.slot);
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
  const plan: ChildPlan = { exitPipe: -1, slot, parentPid: process.pid, isolation: native.EMPTY_PLAN };
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
