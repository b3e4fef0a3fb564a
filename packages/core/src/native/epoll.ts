/**
 * A forked child's own event-loop state. After fork the child shares every
 * epoll instance of the parent (the main loop's, the HTTP thread's) and the
 * eventfds that wake them: one epoll_wait in either process could take the
 * other's events, and one epoll_ctl would change the other's interest list.
 *
 * `isolateEventLoops()` gives the child a fresh epoll instance on the same
 * descriptor number for each inherited one, holding only the registrations
 * the child owns: the loop's wakeup eventfds and timerfds, each also replaced
 * by a fresh one (same number, flags, events and data word, so the runtime's
 * pointers stay valid). Every other registered descriptor belongs to the
 * parent's event-driven I/O (listening and connected sockets, pipes read or
 * written asynchronously, pidfds of its subprocesses): in the child it is
 * replaced by a dead socket, so the child can neither accept on nor read from
 * nor write to it (the calls fail with ENOTCONN/EINVAL), and a close by the
 * parent really closes the connection. Standard input becomes /dev/null
 * (Python's rule for children); standard output and error are kept.
 */
import { ptr } from "bun:ffi";
import { openFile, readFileText } from "./file.ts";
import { fail, libc } from "./libc.ts";

const EPOLL_CTL_ADD = 1;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = O_CLOEXEC;
/** struct epoll_event is packed (12 bytes) on x86_64, naturally aligned (16) elsewhere. */
const EVENT_SIZE = process.arch === "x64" ? 12 : 16;
const DATA_OFFSET = process.arch === "x64" ? 4 : 8;

/** One registration of an epoll instance, as /proc/self/fdinfo shows it. */
export interface Registration {
  fd: number;
  events: number;
  data: bigint;
}

/**
 * `node:fs`, loaded by the parent's plan only: importing it costs every realm
 * that loads `native/` (each worker child) milliseconds, and the child's
 * `applyIsolation` does not need it.
 */
function fs(): typeof import("node:fs") {
  return require("node:fs") as typeof import("node:fs");
}

function link(fd: number): string {
  try {
    return fs().readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return "";
  }
}

function fdinfo(fd: number): string {
  return readFileText(`/proc/self/fdinfo/${fd}`);
}

function flagsOf(info: string): number {
  const m = /^flags:\s+([0-7]+)/m.exec(info);
  return m === null ? 0 : Number.parseInt(m[1]!, 8);
}

/** The registrations of epoll instance `epfd`. */
export function registrations(epfd: number): Registration[] {
  const out: Registration[] = [];
  for (const m of fdinfo(epfd).matchAll(/^tfd:\s+(\d+)\s+events:\s+([0-9a-f]+)\s+data:\s+([0-9a-f]+)/gm)) {
    out.push({ fd: Number(m[1]), events: Number.parseInt(m[2]!, 16), data: BigInt(`0x${m[3]}`) });
  }
  return out;
}

/** Descriptor numbers of every epoll instance this process holds. */
export function epollDescriptors(): number[] {
  return fs()
    .readdirSync("/proc/self/fd")
    .map(Number)
    .filter((fd) => link(fd) === "anon_inode:[eventpoll]");
}

/** Puts `fresh` on descriptor number `target` (keeping close-on-exec as `flags` had it) and closes `fresh`. */
function replace(fresh: number, target: number, flags: number): void {
  if (libc.dup3(fresh, target, flags & O_CLOEXEC) < 0) fail(`dup3(${fresh}, ${target})`);
  libc.close(fresh);
}

function addRegistration(epfd: number, reg: Registration): void {
  const event = new Uint8Array(EVENT_SIZE);
  const view = new DataView(event.buffer);
  view.setUint32(0, reg.events >>> 0, true);
  view.setBigUint64(DATA_OFFSET, reg.data, true);
  if (libc.epoll_ctl(epfd, EPOLL_CTL_ADD, reg.fd, ptr(event)) !== 0) fail(`epoll_ctl(ADD ${reg.fd})`);
}

/** What to do with one registered descriptor in the child. */
export type Action = "eventfd" | "timerfd" | "dead" | "devnull";

/** One epoll instance to replace in the child, with what becomes of its registrations. */
export interface PlannedLoop {
  fd: number;
  flags: number;
  /** `flags`: the descriptor's open flags (eventfd, timerfd); `clock`: a timerfd's clock id. */
  regs: Array<Registration & { action: Action; flags: number; clock: number }>;
}

/**
 * The isolation of a child, computed in the parent right before fork: the
 * parent's code is warm (a child runs everything for the first time, at
 * several times the cost), and nothing changes between this and the fork.
 */
export interface IsolationPlan {
  readonly loops: PlannedLoop[];
}

/** An empty plan: `applyIsolation(EMPTY_PLAN)` does nothing (used to compile it ahead). */
export const EMPTY_PLAN: IsolationPlan = { loops: [] };

/** Plans `applyIsolation` for the process as it is now (read-only: /proc/self/fd and fdinfo). */
export function planIsolation(): IsolationPlan {
  const loops: PlannedLoop[] = [];
  for (const epfd of epollDescriptors()) {
    const regs: PlannedLoop["regs"] = [];
    for (const reg of registrations(epfd)) {
      const kind = link(reg.fd);
      // "": a stale registration, whose number is closed here (epoll keeps an
      // entry while any process still holds the file): nothing to cut off.
      // Nested loops are replaced on their own turn; our stdout and stderr stay ours.
      if (kind === "" || kind === "anon_inode:[eventpoll]" || reg.fd === 1 || reg.fd === 2) continue;
      let action: Action = "dead";
      if (kind === "anon_inode:[eventfd]") action = "eventfd";
      else if (kind === "anon_inode:[timerfd]") action = "timerfd";
      else if (reg.fd === 0) action = "devnull";
      const info = action === "eventfd" || action === "timerfd" ? fdinfo(reg.fd) : "";
      // The clock is read here, in the parent: a child reading /proc costs it faults.
      const clock = action === "timerfd" ? Number(/^clockid:\s+(\d+)/m.exec(info)?.[1] ?? 1) : 0;
      regs.push({ ...reg, action, flags: flagsOf(info), clock });
    }
    loops.push({ fd: epfd, flags: flagsOf(fdinfo(epfd)), regs });
  }
  return { loops };
}

function freshEventfd(fd: number, flags: number): void {
  const fresh = libc.eventfd(0, flags & (O_NONBLOCK | O_CLOEXEC));
  if (fresh < 0) fail("eventfd");
  replace(fresh, fd, flags);
}

function freshTimerfd(fd: number, flags: number, clock: number): void {
  const fresh = libc.timerfd_create(clock, flags & (O_NONBLOCK | O_CLOEXEC));
  if (fresh < 0) fail("timerfd_create");
  // Relative time left and interval: the child's timer fires when the parent's would have.
  const spec = new BigInt64Array(4);
  if (libc.timerfd_gettime(fd, ptr(spec)) === 0) libc.timerfd_settime(fresh, 0, ptr(spec), null);
  replace(fresh, fd, flags);
}

/**
 * In a just-forked child: gives it its own epoll instances, eventfds and
 * timerfds, and cuts it off from the parent's event-driven I/O, as `plan`
 * (made by the parent right before fork) says. Run it before any JavaScript
 * awaits in the child.
 */
export function applyIsolation(plan: IsolationPlan): void {
  let dead = -1;
  let devNull = -1;
  for (const loop of plan.loops) {
    const fresh = libc.epoll_create1(loop.flags & O_CLOEXEC);
    if (fresh < 0) fail("epoll_create1");
    for (const reg of loop.regs) {
      if (reg.action === "eventfd" || reg.action === "timerfd") {
        if (reg.action === "eventfd") freshEventfd(reg.fd, reg.flags);
        else freshTimerfd(reg.fd, reg.flags, reg.clock);
        addRegistration(fresh, reg);
      } else if (reg.action === "devnull") {
        if (devNull < 0) devNull = openFile("/dev/null", "read");
        if (libc.dup3(devNull, 0, 0) < 0) fail("dup3(/dev/null, 0)");
      } else {
        if (dead < 0) {
          dead = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
          if (dead < 0) fail("socket");
        }
        if (dead !== reg.fd && libc.dup3(dead, reg.fd, O_CLOEXEC) < 0) fail(`dup3(dead socket, ${reg.fd})`);
      }
    }
    replace(fresh, loop.fd, loop.flags);
  }
  if (dead >= 0) libc.close(dead);
  if (devNull >= 0) libc.close(devNull);
}

/** `applyIsolation(planIsolation())` in one step, for a process that has not planned ahead. */
export function isolateEventLoops(): IsolationPlan {
  const plan = planIsolation();
  applyIsolation(plan);
  return plan;
}
