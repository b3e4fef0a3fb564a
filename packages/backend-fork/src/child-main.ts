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
import {
  inheritedWarmUpLaunch,
  native,
  prepareInheritedChild,
  reportUncaught,
  warmUpInheritedChild,
} from "@multiproc/core/internal";
import {
  type ChildGlobals,
  exitListenersToRun,
  installChildGlobals,
  prepareChildGlobals,
  restoreParentGlobals,
  swapInChildGlobals,
} from "./child-globals.ts";
import { separateCryptoRandom } from "./child-random.ts";
import { ChildLoop } from "./child-loop.ts";
import { ChildSignals } from "./child-signals.ts";
import { traceStep } from "./fault-trace.ts";
import { parentDescriptors } from "./forked-child.ts";
import { markStarted, slotDescriptors, type StartSlot } from "./start-flags.ts";

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
export const testHooks = {
  hangBeforeStart: false,
  stuckChildren: 0,
  checkStart: false,
  javascriptSetup: false,
  /** Replaces launch.ts's START_WAIT_MS: a loaded machine can take longer than it to reach the stuck point. */
  startWaitMs: undefined as number | undefined,
};

/** What the parent hands the child branch of `launch`. */
export interface ChildPlan {
  readonly slot: StartSlot;
  readonly parentPid: number;
  readonly isolation: native.IsolationPlan;
  /** The child's system-call set-up was done natively (`native.forkWithSetup`): its JavaScript skips it. */
  readonly nativeSetup: boolean;
  /** The native set-up already announced the start. */
  readonly announced: boolean;
}

/** A child's plan: made here for real forks and dry runs alike, so that both have one shape (#23). */
export function childPlan(
  slot: StartSlot,
  parentPid: number,
  isolation: native.IsolationPlan,
  nativeSetup: boolean,
  announced: boolean,
): ChildPlan {
  return { slot, parentPid, isolation, nativeSetup, announced };
}

/**
 * The descriptors a new child closes first thing: its siblings' pidfds, the
 * start-flag pages' descriptors, and the readable watcher's eventfd (its
 * thread is the parent's: a child that wrote it would wake that).
 */
export function inheritedDescriptors(): number[] {
  return [...parentDescriptors, ...slotDescriptors(), ...native.readableWatchDescriptors()];
}

/**
 * Makes the just-forked process its own: identity, loop, descriptors,
 * randomness, signals, parent death. With a native set-up only what lives in
 * JavaScript remains (caches of the thread id and of the parent's records).
 */
function makeSound(plan: ChildPlan, daemon: boolean, dry: boolean): void {
  if (plan.nativeSetup) {
    const failure = native.childSetupFailure();
    if (failure !== undefined) throw new BackendError(`Native set-up of the fork child: ${failure}`);
  } else if (!dry) {
    // The runtime caches process.pid; everything (core's adopt(), block handles, users) must see ours.
    native.setOwnPid(native.realPid());
  }
  // Harmless in the parent: the cache is filled again at its next use.
  native.resetThreadId();
  traceStep("identity", dry);
  if (!plan.nativeSetup && !dry) {
    native.applyIsolation(plan.isolation);
    for (const fd of inheritedDescriptors()) native.closeQuietly(fd);
  }
  // The start-flag pages are the parent's: start-flags.ts sees by itself that they are not this process's.
  // Only when there are some: clearing a Set makes new storage (an allocation in the child).
  if (parentDescriptors.size > 0 && !dry) parentDescriptors.clear();
  traceStep("descriptors", dry);
  // crypto's functions switch by themselves (separateCryptoRandom); the seed came with the native set-up.
  const seed = plan.nativeSetup ? native.childSeed() : native.kernelRandom32();
  if (!dry) setRandomSeed(seed);
  traceStep("random", dry);
  if (!plan.nativeSetup && !dry) {
    native.resetCaughtSignals();
    native.unblockAllSignals();
    // Python's rule: a daemon child ends with its parent (and stops here when
    // the parent is already gone); any other child lives on, re-parented.
    if (daemon && !native.dieWithParent(SIGKILL, plan.parentPid)) native.exitNow(1);
  }
  traceStep("signals", dry);
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

/** The running child's state: module-level, so that the child allocates no closures for it. */
const running = { name: "", finishing: false, code: undefined as number | undefined };

/**
 * Ends the child (what `process.exit` becomes): its own exit listeners, then
 * `_exit`. With `dry` (in the parent) it runs all but what would end or
 * change the parent, and returns.
 */
function finish(code: number, dry = false): never {
  if (!running.finishing) {
    running.finishing = !dry;
    // No listener (the common case): nothing to emit, and no JavaScript to run.
    if (exitListenersToRun() && !dry) {
      try {
        process.emit("exit", code);
      } catch (error) {
        reportUncaught(running.name, error);
        code = 1;
      }
    }
  }
  traceStep("exit listeners", dry);
  // Standard output and error were written synchronously: nothing is left in a buffer.
  return native.exitNow(code, dry);
}

function onLoopError(error: unknown): void {
  reportUncaught(running.name, error);
  finish(1);
}

function targetSettled(code: number): void {
  running.code = code;
}

function targetFailed(error: unknown): void {
  reportUncaught(running.name, error);
  running.code = 1;
}

function targetDone(): boolean {
  return running.code !== undefined;
}

/**
 * The next child's loop, signal listeners and globals, made in the parent
 * before it forks (#23): a child that made them would write fresh heap pages,
 * each a copy-on-write fault. A child takes them; its own children get new
 * ones, made by it before its first fork.
 */
let prepared: { signals: ChildSignals; loop: ChildLoop; globals: ChildGlobals } | undefined;

/** The running child's name while a fork is under way, for the parent's own `running` afterwards. */
let ownName = "";

/**
 * In the parent, right before fork(2): the next child's globals in place (see
 * `swapInChildGlobals`), and its name where its error reports read it.
 */
export function swapInNextChild(name: string): void {
  swapInChildGlobals(prepared!.globals);
  ownName = running.name;
  running.name = name;
}

/** In the parent, right after fork(2) (or a failed one): its own globals and name again. */
export function restoreParent(): void {
  restoreParentGlobals();
  running.name = ownName;
}

/** In the parent, before each fork: makes the next child's objects unless they exist. */
export function prepareChild(): void {
  prepareInheritedChild();
  if (prepared !== undefined) return;
  const signals = new ChildSignals();
  const loop = new ChildLoop(onLoopError, signals);
  prepared = { signals, loop, globals: prepareChildGlobals(loop, finish) };
}

/**
 * Runs in the child right after fork and never returns: the child ends
 * through `_exit` with the exit code of `request.runInChild()`. With `dry`
 * (in the parent, see `warmUpChildPath`) it runs every statement but those
 * that would change or end the parent, and returns: a statement a child runs
 * first costs it more than compiling (its caches and the shapes it makes are
 * written then, and after a full collection the property tables it looks
 * in are made again), each a page it copies (#23).
 */
export function becomeChild(request: InheritedLaunch, plan: ChildPlan, dry = false): never {
  // The parent put the name in place before the fork: no write here.
  if (running.name !== request.name) running.name = request.name;
  try {
    traceStep("forked", dry);
    makeSound(plan, request.daemon, dry);
    const own = prepared!;
    if (!dry) prepared = undefined;
    own.signals.listen(dry);
    traceStep("loop", dry);
    installChildGlobals(dry);
    traceStep("globals", dry);
    while (testHooks.hangBeforeStart && !dry) Bun.sleepSync(1000);
    // As a runtime lock does: a private futex wait with no timeout.
    if (testHooks.stuckChildren > 0 && !dry) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    if (!plan.announced && !dry) markStarted(plan.slot);
    traceStep("announced", dry);
    const ran = request.runInChild();
    // A target that returned no promise is done: no promise, no reaction to make.
    if (typeof ran === "number") running.code = ran;
    else ran.then(targetSettled, targetFailed);
    // In the parent (dry) this loop only drains the microtasks queued so far, as the runtime's would.
    const outcome = own.loop.run(targetDone);
    traceStep("target", dry);
    if (outcome === "stuck") {
      reportStuck(request.name);
      return finish(1, dry);
    }
    const code = running.code ?? 1;
    if (dry) running.code = undefined;
    return finish(code, dry);
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
 * inherits it compiled and its caches filled instead of doing it again
 * (measured: about 2 ms less per child).
 */
export function warmUpChildPath(slot: StartSlot): void {
  if (warm) return;
  warm = true;
  // First: binding a function changes the shape of the object that holds them
  // (libc's), and a shape changed after the dry runs below made every child
  // miss its caches on it, and rebuild its property table after any collection
  // of the parent: 116 -> 67 faults for a child that only exits (#23).
  native.bindAllSymbols();
  native.installPidGetter();
  separateCryptoRandom();
  prepareChild();
  // Not a part of the child's way, but dropping this first swap made children
  // take 4-6 more faults in a plain start + join loop (measured; cause not found).
  swapInChildGlobals(prepared!.globals);
  restoreParentGlobals();
  // What the dry runs of `becomeChild` below do not reach: a target's promise settling.
  targetSettled(0);
  running.code = undefined;
  warmUpInheritedChild();
  // A launch as start() makes one (the same shapes, so the same caches), whose way in runs dry.
  const warmUp = inheritedWarmUpLaunch();
  const parentName = running.name;
  // Both set-ups, as children run them: each statement a child runs, the parent ran before (see `becomeChild`).
  for (const nativeSetup of [true, false]) {
    becomeChild(warmUp, childPlan(slot, process.pid, native.EMPTY_PLAN, nativeSetup, false), true);
  }
  running.name = parentName;
  native.applyIsolation(native.EMPTY_PLAN);
  const loop = new ChildLoop(() => {});
  let done = false;
  loop.setTimeout(() => {
    done = true;
  }, 0);
  loop.setImmediate(() => {});
  loop.run(() => done);
}
