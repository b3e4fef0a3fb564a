/**
 * The client side of the shared memory tracker (Python: `resource_tracker`):
 * on the first tracked `SharedMemory` a program creates, a small `bun`
 * process (`tracker-process.ts`) starts, reading a pipe whose write end every
 * process of the program holds. Registrations are one line each (the wire
 * format is at the top of that file); when the last holder ends, however it
 * ends, the tracker unlinks what is still registered.
 *
 * Who shares a tracker: a fork child inherits its parent's descriptor; a
 * spawn or worker child started while its parent has one gets a copy with
 * its start message (`inheritByChildren`), as Python's spawn passes its
 * tracker's descriptor. A child whose parent had none starts its own, which
 * ends, and unlinks, when that child and its own children have ended.
 */
import { closeOwnedFd, ownFd } from "../channel/realm-fds.ts";
import { type FdRef, shareFd, takeFd } from "../channel/fd-transfer.ts";
import { registerReducer } from "../codec/reducers.ts";
import { BackendError } from "../errors.ts";
import { inheritByChildren } from "../inherit.ts";
import { closeFd, setNonBlocking } from "../native/file.ts";
import { makePipe } from "../native/fork.ts";
import { Errno } from "../native/libc.ts";
import { spawnHelper } from "../native/spawn.ts";
import { writeAllSync } from "../native/write-all.ts";

/** Longest a registration may wait for room in the pipe (a tracker that stopped reading). */
const WRITE_TIMEOUT = 10_000;
const TRACKER_PROGRAM = new URL("./tracker-process.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

/** This realm's link to its tracker: the write end of the tracker's pipe. */
class TrackerLink {
  constructor(readonly fd: number) {}

  static {
    registerReducer(TrackerLink, {
      tag: "ShmTracker",
      reduce: (link) => ({ fd: shareFd(link.fd) }),
      rebuild: (state) => adopt(takeFd((state as { fd: FdRef }).fd)),
    });
  }
}

let link: TrackerLink | undefined;
/** Names this realm registered and has not unregistered: sent again to a tracker started anew. */
const mine = new Set<string>();

/** Makes `fd` (a write end received at start) this realm's tracker link. */
function adopt(fd: number): TrackerLink {
  if (link !== undefined) closeOwnedFd(link.fd);
  link = new TrackerLink(ownFd(fd));
  inheritByChildren(link);
  return link;
}

/** Starts a tracker and links this realm to it. */
function start(): TrackerLink {
  const [readEnd, writeEnd] = makePipe();
  try {
    // A tracker that stops reading must not block a create forever (see WRITE_TIMEOUT).
    setNonBlocking(writeEnd);
    spawnHelper([process.execPath, TRACKER_PROGRAM], {
      stdin: readEnd,
      // No bunfig.toml, .env or preload of the program's folder applies to it.
      cwd: "/",
      env: [`PATH=${process.env.PATH ?? "/usr/bin:/bin"}`],
    });
  } catch (error) {
    closeFd(writeEnd);
    throw error;
  } finally {
    closeFd(readEnd);
  }
  return adopt(writeEnd);
}

function send(op: "R" | "U", name: string): void {
  const line = encoder.encode(`${op} ${JSON.stringify(name)}\n`);
  const current = link ?? start();
  try {
    writeAllSync(current.fd, line, WRITE_TIMEOUT);
  } catch (error) {
    // The tracker died (EPIPE): start another and tell it all this realm still tracks.
    if (!(error instanceof BackendError && error.errno === Errno.EPIPE)) throw error;
    const fresh = start();
    for (const n of mine) writeAllSync(fresh.fd, encoder.encode(`R ${JSON.stringify(n)}\n`), WRITE_TIMEOUT);
    if (op === "U" || !mine.has(name)) writeAllSync(fresh.fd, line, WRITE_TIMEOUT);
  }
}

/**
 * Registers segment `name`, created by this program: it is unlinked when the
 * program ends unless `unregister(name)` comes first. Starts the tracker on
 * first use.
 * @throws BackendError when the tracker cannot be started or reached
 */
export function register(name: string): void {
  send("R", name);
  mine.add(name);
}

/** Tells the tracker, if this realm has one, that `name` was unlinked. */
export function unregister(name: string): void {
  mine.delete(name);
  if (link !== undefined) send("U", name);
}
