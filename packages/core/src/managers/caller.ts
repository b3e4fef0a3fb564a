/**
 * Who calls the server (Python: the server thread that serves the caller's
 * thread): an owner-aware object on the server (an RLock, a Condition) is
 * owned by one thread of one process, named by this id.
 */
import { randomBytes } from "node:crypto";
import { threadId } from "../native/thread.ts";

let token = "";
let tokenPid = -1;

/** The id of the calling thread of this process, unique across processes and hosts. */
export function callerId(): string {
  // A forked child keeps the parent's module state: a new pid draws a new token.
  if (tokenPid !== process.pid) {
    token = randomBytes(8).toString("hex");
    tokenPid = process.pid;
  }
  return `${token}:${threadId()}`;
}
