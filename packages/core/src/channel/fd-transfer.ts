/**
 * Descriptors that travel with an encoded value (the role of Python's
 * `reduction.DupFd` / `resource_sharer`, without the server thread).
 *
 * A reducer of an object that owns a descriptor (Connection, Queue) calls
 * `shareFd` while the codec encodes, and gets a small reference to put in its
 * state. What the reference means depends on the transport that is encoding:
 * - `{ i }` — the i-th descriptor attached to this message. A Connection sends
 *   them as SCM_RIGHTS with the message, a Queue through its mailbox socket. A
 *   descriptor in flight keeps its file open even after the sender closed it or
 *   exited, so nothing sent is lost.
 * - `{ h }` — the h-th descriptor handed to a child at start (`LaunchRequest.fds`):
 *   the spawn backend sends them with its start message (SCM_RIGHTS).
 * - `{ pid, fd, ino }` — no transport collects descriptors (a bare `dumps`): the
 *   receiver copies descriptor `fd` out of process `pid` with pidfd_getfd (or
 *   dup in the same process), which works while the sender keeps it open.
 *
 * `takeFd` in the rebuild returns a descriptor owned by the new object.
 */
import { loads } from "../codec/decode.ts";
import { dumps } from "../codec/encode.ts";
import { encodingRemote, refuseIfRemote } from "../codec/remote.ts";
import { PicklingError } from "../errors.ts";
import { closeFd, fileStat } from "../native/file.ts";
import { pidfdOpen } from "../native/pidfd.ts";
import { dupFd, pidfdGetfd } from "../native/socket.ts";
import { inheritedFds } from "./realm-fds.ts";

/** How a reduced object names one of its descriptors. */
export type FdRef = { i: number } | { h: number } | { pid: number; fd: number; ino: number };

/** A value's bytes plus the descriptors its library objects need. */
export interface Carried {
  bytes: Uint8Array;
  fds: number[];
}

interface Collector {
  kind: "i" | "h";
  fds: number[];
}

let collecting: Collector | undefined;
/** The dumps options of every `send(obj)` / `put(obj)`, made once. */
const OBJ = { path: "obj" };
/** Descriptors of the message being decoded; an entry is set to -1 once taken. */
let arriving: number[] | undefined;

function collect<T>(kind: "i" | "h", encode: () => T): { value: T; fds: number[] } {
  const outer = collecting;
  const mine: Collector = { kind, fds: [] };
  collecting = mine;
  try {
    return { value: encode(), fds: mine.fds };
  } finally {
    collecting = outer;
  }
}

/**
 * Encodes `value` for a transport that carries descriptors beside the bytes.
 * The returned descriptors still belong to their objects: send them, do not close them.
 * @throws PicklingError when the value cannot be sent (path rooted at `path`)
 */
export function encodeCarrying(value: unknown, path: string, remote = false): Carried {
  if (remote) return { bytes: encodingRemote(() => dumps(value, { path })), fds: [] };
  const outer = collecting;
  const mine: Collector = { kind: "i", fds: [] };
  collecting = mine;
  try {
    return { bytes: dumps(value, path === "obj" ? OBJ : { path }), fds: mine.fds };
  } finally {
    collecting = outer;
  }
}

/**
 * Runs `encode` (a child's bootstrap encoding) collecting the descriptors the
 * child must inherit at start, in the order the child will find them.
 */
export function encodeForLaunch<T>(encode: () => T): { value: T; fds: number[] } {
  return collect("h", encode);
}

/**
 * Decodes a message whose descriptors arrived as `fds` (now owned by the
 * caller): each is given to the object that asks for it, and the ones nobody
 * took are closed.
 */
export function decodeCarrying(bytes: Uint8Array, fds: number[]): unknown {
  if (fds.length === 0 && arriving === undefined) return loads(bytes);
  const outer = arriving;
  arriving = fds.slice();
  try {
    return loads(bytes);
  } finally {
    for (const fd of arriving) if (fd >= 0) closeFd(fd);
    arriving = outer;
  }
}

/** Names descriptor `fd` for the encode in progress. Called by reducers. */
export function shareFd(fd: number): FdRef {
  refuseIfRemote("a descriptor");
  const c = collecting;
  if (c === undefined) return { pid: process.pid, fd, ino: fileStat(fd).ino };
  let at = c.fds.indexOf(fd);
  if (at < 0) at = c.fds.push(fd) - 1;
  return c.kind === "i" ? { i: at } : { h: at };
}

function claim(table: number[] | undefined, at: number, what: string): number {
  const fd = table?.[at];
  if (fd === undefined) {
    throw new PicklingError(`Cannot load value: ${what} ${at} did not arrive with it`, "value");
  }
  if (fd >= 0) {
    table![at] = -1 - fd; // taken; a second reference to it gets a copy
    return fd;
  }
  return dupFd(-1 - fd);
}

/**
 * The descriptor a reference names, as a new descriptor owned by the caller.
 * Called by rebuilds.
 * @throws PicklingError when the descriptor did not arrive, or the sender no longer has it
 */
export function takeFd(ref: FdRef): number {
  if ("i" in ref) return claim(arriving, ref.i, "attached descriptor");
  if ("h" in ref) return claim(inheritedFds(), ref.h, "descriptor handed at start");
  return borrow(ref);
}

function borrow(ref: { pid: number; fd: number; ino: number }): number {
  let copy: number;
  try {
    if (ref.pid === process.pid) copy = dupFd(ref.fd);
    else {
      const pidfd = pidfdOpen(ref.pid);
      try {
        copy = pidfdGetfd(pidfd, ref.fd);
      } finally {
        closeFd(pidfd);
      }
    }
  } catch (cause) {
    throw new PicklingError(
      `Cannot load value: descriptor ${ref.fd} of process ${ref.pid} is gone; send it through a Pipe, a Queue or a Process's args`,
      "value",
      { cause },
    );
  }
  if (fileStat(copy).ino !== ref.ino) {
    closeFd(copy);
    throw new PicklingError(
      `Cannot load value: descriptor ${ref.fd} of process ${ref.pid} was closed before it arrived`,
      "value",
    );
  }
  return copy;
}
