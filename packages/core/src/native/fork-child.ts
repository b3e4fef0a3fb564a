/**
 * fork(2) with the child's system-call set-up done in C (issue #23): every
 * page a fork child's JavaScript writes is a copy-on-write fault (about 3 µs
 * here), so the pure system calls of its way in (the event-loop isolation of
 * epoll.ts, closing the parent's descriptors, default signal actions,
 * PDEATHSIG for a daemon, its pid, the start announcement) run in
 * `fork-child.c`, compiled once by bun:ffi's built-in TinyCC (no compiler on
 * the user's machine), before any JavaScript runs in the child.
 *
 * Wire between this file and fork-child.c (Int32 words):
 * - plan: [flags, parentPid, nClose, nLoops], then nClose descriptors to
 *   close, then per loop [epfd, flags, nRegs] and per registration RegField's
 *   seven words.
 * - out (one per realm, written by the child): [pid, failed step, errno, random seed].
 * - started: the address of the child's start word (start-flags.ts), set to 1.
 */
import { cc, ptr } from "bun:ffi";
import type { Action, IsolationPlan } from "./epoll.ts";
import { bindAllSymbols, fail } from "./libc.ts";
import { countFork } from "./fork.ts";

const PlanHead = { FLAGS: 0, PARENT: 1, NCLOSE: 2, NLOOPS: 3, SIZE: 4 } as const;
const PlanFlag = { DAEMON: 1, ANNOUNCE: 2 } as const;
const RegField = { FD: 0, ACTION: 1, FLAGS: 2, EVENTS: 3, DATA_LO: 4, DATA_HI: 5, CLOCK: 6, SIZE: 7 } as const;
const ACTIONS: Record<Action, number> = { eventfd: 0, timerfd: 1, dead: 2, devnull: 3 };
const Out = { PID: 0, FAILED_STEP: 1, ERRNO: 2, SEED: 3 } as const;
const FAILED_STEPS = [
  "",
  "epoll_create1",
  "eventfd",
  "timerfd_create",
  "dup3",
  "epoll_ctl",
  "socket",
  "open(/dev/null)",
] as const;

/**
 * This realm's identity words. Preallocated and touched here, in the parent:
 * the child's C code writes its pid into them, so the child's JavaScript
 * needs no allocation to know who it is.
 */
const out = new Int32Array(new ArrayBuffer(16));
const startPid = process.pid;

type Compiled = { mp_fork_child: (plan: number, out: number, started: number) => number };
let compiled: Compiled | null | undefined;
let unavailable: string | undefined;

/**
 * Whether the native fork is usable here: compiles fork-child.c on the first
 * call (about 7 ms, once per process; its children inherit it compiled).
 * False when `MULTIPROC_FORK_NATIVE=0` or when TinyCC fails
 * (`nativeForkUnavailable()` says why); the JavaScript path is used then.
 */
export function nativeForkReady(): boolean {
  if (compiled !== undefined) return compiled !== null;
  if (process.env.MULTIPROC_FORK_NATIVE === "0") {
    unavailable = "MULTIPROC_FORK_NATIVE=0";
    compiled = null;
    return false;
  }
  try {
    const lib = cc({
      // A path, not a URL's pathname: that one would keep a space in the path as %20.
      source: `${import.meta.dir}/fork-child.c`,
      symbols: { mp_fork_child: { args: ["ptr", "ptr", "ptr"], returns: "i32" } },
    });
    compiled = lib.symbols as unknown as Compiled;
  } catch (error) {
    unavailable = error instanceof Error ? error.message : String(error);
    compiled = null;
  }
  return compiled !== null;
}

/** Why the native fork is not used (undefined while it is, or before `nativeForkReady()`). */
export function nativeForkUnavailable(): string | undefined {
  return unavailable;
}

/** What a child does natively right after fork. */
export interface ChildSetup {
  readonly isolation: IsolationPlan;
  /** Descriptors of the parent's the child closes (after the isolation). */
  readonly close: Iterable<number>;
  /** PR_SET_PDEATHSIG SIGKILL, and `_exit(1)` at once when `parentPid` is already gone. */
  readonly daemon: boolean;
  readonly parentPid: number;
  /** Address of the child's start word to set to 1, or 0 to leave the announcement to JavaScript. */
  readonly announceAt: number;
}

function encode(setup: ChildSetup): Int32Array {
  const closing = [...setup.close];
  let size = PlanHead.SIZE + closing.length;
  for (const loop of setup.isolation.loops) size += 3 + loop.regs.length * RegField.SIZE;
  const plan = new Int32Array(new ArrayBuffer(size * 4));
  plan[PlanHead.FLAGS] = (setup.daemon ? PlanFlag.DAEMON : 0) | (setup.announceAt !== 0 ? PlanFlag.ANNOUNCE : 0);
  plan[PlanHead.PARENT] = setup.parentPid;
  plan[PlanHead.NCLOSE] = closing.length;
  plan[PlanHead.NLOOPS] = setup.isolation.loops.length;
  let at = PlanHead.SIZE;
  for (const fd of closing) plan[at++] = fd;
  for (const loop of setup.isolation.loops) {
    plan[at++] = loop.fd;
    plan[at++] = loop.flags;
    plan[at++] = loop.regs.length;
    for (const reg of loop.regs) {
      plan[at + RegField.FD] = reg.fd;
      plan[at + RegField.ACTION] = ACTIONS[reg.action];
      plan[at + RegField.FLAGS] = reg.flags;
      plan[at + RegField.EVENTS] = reg.events;
      plan[at + RegField.DATA_LO] = Number(BigInt.asUintN(32, reg.data));
      plan[at + RegField.DATA_HI] = Number(BigInt.asUintN(32, reg.data >> 32n));
      plan[at + RegField.CLOCK] = reg.clock;
      at += RegField.SIZE;
    }
  }
  return plan;
}

/**
 * Forks with `setup` done by the child in C before it returns. Returns the
 * child's pid in the parent and 0 in the child, which then checks
 * `childSetupFailure()`. As `forkProcess`: the caller ran `markAllForkable()`
 * first, and the end signals are blocked across the fork. Call only after
 * `nativeForkReady()` returned true.
 * @throws {BackendError} in the parent, when fork(2) fails.
 */
export function forkWithSetup(setup: ChildSetup): number {
  if (compiled === undefined || compiled === null) throw new Error("forkWithSetup before nativeForkReady()");
  const plan = encode(setup);
  // The child's JavaScript must find every libc function bound (binding calls dlopen).
  bindAllSymbols();
  countFork();
  const pid = compiled.mp_fork_child(ptr(plan), ptr(out), setup.announceAt);
  if (pid < 0) fail("fork", -pid);
  return pid;
}

/** In a child of `forkWithSetup`: the step of its set-up that failed, with errno, or undefined. */
export function childSetupFailure(): string | undefined {
  const step = out[Out.FAILED_STEP]!;
  if (step === 0) return undefined;
  return `${FAILED_STEPS[step] ?? `step ${step}`} failed (errno ${out[Out.ERRNO]})`;
}

/** In a child of `forkWithSetup`: 32 bits from the kernel (getrandom) to seed Math.random with. */
export function childSeed(): number {
  return out[Out.SEED]! >>> 0;
}

/** Records this process's pid after a fork done without `forkWithSetup` (the JavaScript path). */
export function setOwnPid(pid: number): void {
  out[Out.PID] = pid;
}

let pidGetter = false;

/**
 * Makes `process.pid` (cached by the runtime) read this realm's identity
 * word, which a fork child's C set-up writes: the child's JavaScript then
 * needs nothing to see its own pid. Called once in the parent, before its
 * first fork.
 */
export function installPidGetter(): void {
  if (pidGetter) return;
  pidGetter = true;
  Object.defineProperty(process, "pid", {
    get: () => out[Out.PID] || startPid,
    set: (pid: number) => {
      out[Out.PID] = pid;
    },
    configurable: true,
    enumerable: true,
  });
}
