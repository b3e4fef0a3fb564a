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
import { type Action, type IsolationPlan, type PlannedLoop, planIsolation } from "./epoll.ts";
import { bindAllSymbols, fail } from "./libc.ts";
import { countFork } from "./fork.ts";

/** The plan's head; NCLOSE [first, last] ranges of descriptors to close follow it, then the loops. */
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

type Compiled = {
  mp_fork_child: (plan: number, out: number, started: number) => number;
  mp_plan_isolation: (loops: number, cap: number, skip: number, nskip: number) => number;
  mp_count_threads_named: (name: number, skip: number) => number;
};
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
      symbols: {
        mp_fork_child: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
        mp_plan_isolation: { args: ["ptr", "i32", "ptr", "i32"], returns: "i32" },
        mp_count_threads_named: { args: ["ptr", "i32"], returns: "i32" },
      },
    });
    compiled = lib.symbols as unknown as Compiled;
  } catch (error) {
    unavailable = error instanceof Error ? error.message : String(error);
    compiled = null;
  }
  return compiled !== null;
}

/**
 * How many threads other than `skip` are named `name` (their
 * /proc/self/task/<tid>/comm, newline included: `name` is a NUL-terminated
 * buffer), counted in C without a string per thread; undefined when the
 * native fork is not compiled (or was never asked for: this compiles nothing)
 * or the listing could not be read.
 */
export function countThreadsNamed(name: Uint8Array, skip: number): number | undefined {
  if (compiled === undefined || compiled === null) return undefined;
  const n = compiled.mp_count_threads_named(ptr(name), skip);
  return n < 0 ? undefined : n;
}

/** Why the native fork is not used (undefined while it is, or before `nativeForkReady()`). */
export function nativeForkUnavailable(): string | undefined {
  return unavailable;
}

/** What a child does natively right after fork. */
export interface ChildSetup {
  /**
   * The event-loop isolation (epoll.ts); left out, it is planned in C right
   * before the fork (`mp_plan_isolation`), which writes no JavaScript
   * string or object: each would be a page the parent copies again after its
   * next fork.
   */
  readonly isolation?: IsolationPlan;
  /** Descriptors of the parent's the child closes (after the isolation). */
  readonly close: readonly number[];
  /** PR_SET_PDEATHSIG SIGKILL, and `_exit(1)` at once when `parentPid` is already gone. */
  readonly daemon: boolean;
  readonly parentPid: number;
  /** Address of the child's start word to set to 1, or 0 to leave the announcement to JavaScript. */
  readonly announceAt: number;
}

/** Words of the reused plan buffer: 64 KiB, about 2 300 registrations. */
const PLAN_WORDS = 16384;
/** One buffer for every fork, allocated (and paged in) by the first: no allocation per fork. */
let planBuffer: Int32Array | undefined;

function grow(words: number): Int32Array {
  if (planBuffer === undefined || planBuffer.length < words) {
    planBuffer = new Int32Array(new ArrayBuffer(Math.max(PLAN_WORDS, words) * 4));
  }
  return planBuffer;
}

function loopWords(isolation: IsolationPlan): number {
  let size = 0;
  for (const loop of isolation.loops) size += 3 + loop.regs.length * RegField.SIZE;
  return size;
}

function encodeLoops(plan: Int32Array, at: number, isolation: IsolationPlan): void {
  for (const loop of isolation.loops) {
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
}

/**
 * Plans the loops in C at `at`, looking past the descriptors in the `nskip`
 * close ranges of the plan's head; the number of loops, or -1 when C could
 * not (then JavaScript plans).
 */
function planLoopsNatively(plan: Int32Array, at: number, nskip: number): number {
  if (compiled === undefined || compiled === null) return -1;
  return compiled.mp_plan_isolation(ptr(plan, at * 4), plan.length - at, ptr(plan, PlanHead.SIZE * 4), nskip);
}

/**
 * `fds` sorted into ranges of consecutive numbers, written as [first, last]
 * pairs at `plan[at]`; the number of ranges. `encode` leaves two words per
 * descriptor there: the descriptors are sorted in the upper half (an insertion
 * sort: they come mostly in order), so no array is made per fork (a copy and
 * a sort made in the runtime's code were about 4 page faults of the parent a
 * fork, #23). Each range is written below the numbers not read yet.
 */
function writeRanges(plan: Int32Array, at: number, fds: readonly number[]): number {
  const from = at + fds.length;
  const end = from + fds.length;
  for (let i = from; i < end; i++) {
    const fd = fds[i - from]!;
    let j = i;
    for (; j > from && plan[j - 1]! > fd; j--) plan[j] = plan[j - 1]!;
    plan[j] = fd;
  }
  let n = 0;
  for (let i = from; i < end; ) {
    let last = plan[i]!;
    const first = last;
    while (i < end && plan[i]! <= last + 1) last = plan[i++]!;
    plan[at + 2 * n] = first;
    plan[at + 2 * n + 1] = last;
    n++;
  }
  return n;
}

function encode(setup: ChildSetup): Int32Array {
  let isolation = setup.isolation;
  let plan = grow(PlanHead.SIZE + 2 * setup.close.length + (isolation === undefined ? 0 : loopWords(isolation)));
  plan[PlanHead.FLAGS] = (setup.daemon ? PlanFlag.DAEMON : 0) | (setup.announceAt !== 0 ? PlanFlag.ANNOUNCE : 0);
  plan[PlanHead.PARENT] = setup.parentPid;
  const ranges = writeRanges(plan, PlanHead.SIZE, setup.close);
  plan[PlanHead.NCLOSE] = ranges;
  const at = PlanHead.SIZE + 2 * ranges;
  if (isolation === undefined) {
    const loops = planLoopsNatively(plan, at, ranges);
    if (loops >= 0) {
      plan[PlanHead.NLOOPS] = loops;
      return plan;
    }
    isolation = planIsolation();
    const head = plan.subarray(0, at);
    plan = grow(at + loopWords(isolation));
    plan.set(head);
  }
  plan[PlanHead.NLOOPS] = isolation.loops.length;
  encodeLoops(plan, at, isolation);
  return plan;
}

/**
 * The isolation plan as `mp_plan_isolation` makes it, decoded (for tests:
 * it must equal epoll.ts `planIsolation()`); undefined when C could not plan.
 */
export function nativeIsolationPlan(): IsolationPlan | undefined {
  if (!nativeForkReady()) return undefined;
  const words = new Int32Array(PLAN_WORDS);
  const n = planLoopsNatively(words, 0, 0);
  if (n < 0) return undefined;
  const actions = Object.keys(ACTIONS) as Action[];
  const loops: PlannedLoop[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const loop: PlannedLoop = { fd: words[at]!, flags: words[at + 1]!, regs: [] };
    const nregs = words[at + 2]!;
    at += 3;
    for (let j = 0; j < nregs; j++, at += RegField.SIZE) {
      const lo = BigInt(words[at + RegField.DATA_LO]! >>> 0);
      const hi = BigInt(words[at + RegField.DATA_HI]! >>> 0);
      loop.regs.push({
        fd: words[at + RegField.FD]!,
        events: words[at + RegField.EVENTS]! >>> 0,
        data: (hi << 32n) | lo,
        action: actions[words[at + RegField.ACTION]!]!,
        flags: words[at + RegField.FLAGS]!,
        clock: words[at + RegField.CLOCK]!,
      });
    }
    loops.push(loop);
  }
  return { loops };
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
