/**
 * `wait`: the ready ones among Connections, Processes and descriptors
 * (Python: `multiprocessing.connection.wait`). A Connection is ready when a
 * message or the end of the stream can be received, a Process when it has
 * ended, a descriptor when it is readable.
 */
import { ProcessError } from "../errors.ts";
import { waitAnyReadable } from "../native/poll.ts";
import type { Process } from "../process.ts";
import { checkTimeout } from "../timeout.ts";
import { deadlineOf, timeLeft } from "../wait/deadline.ts";
import { waitUntil } from "../wait/poll.ts";
import { Connection } from "./connection.ts";

/** What `wait` waits for. */
export type Waitable = Connection | Process | number;

/** The descriptor poll(2) watches for `object`. */
function fdOf(object: Waitable): number {
  if (typeof object === "number") {
    if (!Number.isInteger(object) || object < 0) throw new RangeError(`wait: a descriptor must be >= 0, got ${object}`);
    return object;
  }
  if (object instanceof Connection) return object.fileno();
  const sentinel = (object as Process).sentinel;
  if (sentinel === undefined) {
    throw new ProcessError(`wait: ${String(object)} has no sentinel: it has not been started`);
  }
  return sentinel;
}

/** Whether `object` is ready now, without waiting. */
function readyNow(object: Waitable, fd: number): boolean {
  if (object instanceof Connection) return object.poll(0);
  if (typeof object === "number") return waitAnyReadable([fd], 0);
  return (object as Process).exitCode !== null;
}

function ready<T extends Waitable>(objects: readonly T[], fds: readonly number[]): T[] {
  return objects.filter((o, i) => readyNow(o, fds[i]!));
}

function checkObjects(objects: unknown, what: string): void {
  if (!Array.isArray(objects)) throw new TypeError(`${what} needs an array of Connections, Processes or descriptors`);
}

/**
 * Blocks until at least one of `objects` is ready or `timeout` ms passed;
 * returns the ready ones (empty after a timeout), in the order given.
 * @throws ProcessError for a Process that was not started or a closed Connection
 */
export function waitSync<T extends Waitable>(objects: readonly T[], timeout?: number): T[] {
  checkObjects(objects, "waitSync");
  const deadline = deadlineOf(checkTimeout(timeout, "wait"));
  const fds = objects.map(fdOf);
  for (;;) {
    const now = ready(objects, fds);
    if (now.length > 0) return now;
    const left = timeLeft(deadline);
    if (left === 0 || fds.length === 0) {
      if (fds.length === 0 && left === undefined) throw new RangeError("wait: nothing to wait for and no timeout");
      if (left !== 0) waitAnyReadable([], left);
      return [];
    }
    waitAnyReadable(fds, left);
  }
}

/** Like `waitSync`, without blocking the event loop. */
export async function wait<T extends Waitable>(objects: readonly T[], timeout?: number): Promise<T[]> {
  checkObjects(objects, "wait");
  const deadline = deadlineOf(checkTimeout(timeout, "wait"));
  const fds = objects.map(fdOf);
  if (fds.length === 0 && deadline === Number.POSITIVE_INFINITY) {
    throw new RangeError("wait: nothing to wait for and no timeout");
  }
  let found: T[] = [];
  await waitUntil(
    () => {
      found = ready(objects, fds);
      return found.length > 0;
    },
    deadline,
    fds,
  );
  return found;
}
