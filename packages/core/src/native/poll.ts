/**
 * poll(2) on one descriptor: where every blocking channel call (`recvSync`,
 * a full socket's `send`) and every join of a process sleeps. In a worker
 * thread that can be stopped it sleeps in slices and looks at the stop word
 * between them (`thread-stop.ts`), so terminate() never waits for data that
 * may never come.
 */
import { Errno, errno, fail, libc } from "./libc.ts";
import { pollSlice, waitBegins, waitEnds } from "./thread-stop.ts";

const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLRDHUP = 0x2000;

/** Which end of a wait: readable or writable. */
export type Readiness = "read" | "write";

// struct pollfd { int fd; short events; short revents; }. An explicit
// ArrayBuffer: JSC may move a small inline typed array once code is hot.
const pollfd = new Int32Array(new ArrayBuffer(8));

/**
 * Waits until `fd` is readable (data, end of stream, error, or an ended
 * process for a pidfd) or writable, at most `timeoutMs` (undefined: forever;
 * 0: just look). Returns true when ready.
 */
export function waitReady(fd: number, on: Readiness, timeoutMs: number | undefined): boolean {
  pollfd[0] = fd;
  pollfd[1] = on === "read" ? POLLIN : POLLOUT;
  return pollLoop(pollfd, 1, timeoutMs);
}

// struct pollfd[] for `waitAnyReadable`, grown as needed.
let many = new Int32Array(new ArrayBuffer(8 * 16));

/**
 * Waits until any of `fds` is readable (as `waitReady` reads it), at most
 * `timeoutMs` (undefined: forever). Returns true when one is.
 */
export function waitAnyReadable(fds: readonly number[], timeoutMs: number | undefined): boolean {
  if (many.length < fds.length * 2) many = new Int32Array(new ArrayBuffer(8 * fds.length * 2));
  for (const [i, fd] of fds.entries()) {
    many[2 * i] = fd;
    many[2 * i + 1] = POLLIN;
  }
  return pollLoop(many, fds.length, timeoutMs);
}

/** poll(2) on the first `count` entries of `fds` (events set), in slices a stop word can end, until one is ready or the time is up. */
function pollLoop(fds: Int32Array, count: number, timeoutMs: number | undefined): boolean {
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  for (;;) {
    const left = deadline === undefined ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
    waitBegins();
    const r = libc.poll(fds, count, pollSlice(left));
    const e = r < 0 ? errno() : 0;
    waitEnds();
    if (r > 0) return true;
    if (r === 0) {
      if (deadline !== undefined && performance.now() >= deadline) return false;
      continue;
    }
    if (e !== Errno.EINTR) fail("poll", e);
  }
}

/**
 * Whether the other end of stream socket `fd` will send nothing more (it
 * closed or shut down its writing side, or the socket failed): poll(2) for
 * POLLRDHUP without waiting. Data it sent before may still be queued.
 */
export function peerDone(fd: number): boolean {
  pollfd[0] = fd;
  pollfd[1] = POLLRDHUP;
  const r = libc.poll(pollfd, 1, 0);
  return r > 0 && ((pollfd[1]! >>> 16) & (POLLRDHUP | POLLHUP | POLLERR)) !== 0;
}
