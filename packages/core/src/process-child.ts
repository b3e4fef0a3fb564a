/**
 * What the entry of a child in its own OS process (spawn's) needs to take
 * its start message from the parent (a few native calls, protocol/start.ts),
 * and nothing more: kept
 * apart from child-realm.ts so that a Worker child, which gets its start
 * message by postMessage, loads none of these modules at its start.
 */
export { readWhole } from "./native/file.ts";
export { dieWithParent, parentIs } from "./native/parent-death.ts";
export { waitReady } from "./native/poll.ts";
export { receiveSome } from "./native/socket.ts";
export { decodeStart } from "./protocol/start.ts";
