/**
 * The manager protocol (Python: `multiprocessing.managers`, `dispatch`): the
 * messages on one client connection, each a codec value. A client opens a
 * connection (with the auth key handshake of `Listener`), names itself once,
 * then sends requests one at a time and reads one reply for each, in order:
 *   ["hello", clientId]                  -> RETURN null (refs of this client die with its last connection)
 *   ["hello", clientId, lane]            -> the same, and every later message of this connection
 *                                           goes through the lane (lane.ts; unix sockets only)
 *   ["create", typeid, args]             -> RETURN [id, exposed]  (the object is held for this client)
 *   ["call", id, method, args]           -> RETURN value | PROXY [typeid, id, exposed, kind] | ERROR error
 *   ["incref", id] / ["decref", id]      -> RETURN exposed / null
 *   ["numberOfObjects"]                  -> RETURN the count of objects held (Python: `number_of_objects`)
 *   ["shutdown"]                         -> RETURN null, then the server closes
 * A reply is ["#RETURN", value] (["#RETURN"] for undefined: the codec
 * encodes an array holding undefined by structured clone, about 1 µs more
 * than JSON), ["#PROXY", [typeid, id, exposed]] (a method
 * listed in `methodToTypeid`: the result is held on the server, for this
 * client) or ["#ERROR", error] (the codec carries the Error's class, message
 * and stack).
 */

import { Lane } from "./lane.ts";

/** A request from a client to the server. */
export type Request =
  | readonly ["hello", string]
  | readonly ["hello", string, Lane]
  | readonly ["create", string, unknown[]]
  | readonly ["call", string, string, unknown[]]
  | readonly ["incref", string]
  | readonly ["decref", string]
  | readonly ["numberOfObjects"]
  | readonly ["shutdown"];

/** A reply of the server. */
export type Reply =
  | readonly ["#RETURN"]
  | readonly ["#RETURN", unknown]
  | readonly ["#PROXY", readonly [typeid: string, id: string, exposed: string[], kind?: string]]
  | readonly ["#ERROR", unknown];

/** Checks the shape of a request read from a peer (every field used is checked where it is read). */
export function parseRequest(m: unknown): Request | undefined {
  if (!Array.isArray(m) || typeof m[0] !== "string") return undefined;
  switch (m[0]) {
    case "hello":
      return typeof m[1] === "string" && (m.length === 2 || (m.length === 3 && m[2] instanceof Lane))
        ? (m as unknown as Request)
        : undefined;
    case "incref":
    case "decref":
      return m.length === 2 && typeof m[1] === "string" ? (m as unknown as Request) : undefined;
    case "create":
      return m.length === 3 && typeof m[1] === "string" && Array.isArray(m[2]) ? (m as unknown as Request) : undefined;
    case "call":
      return m.length === 4 && typeof m[1] === "string" && typeof m[2] === "string" && Array.isArray(m[3])
        ? (m as unknown as Request)
        : undefined;
    case "numberOfObjects":
    case "shutdown":
      return m.length === 1 ? (m as unknown as Request) : undefined;
    default:
      return undefined;
  }
}
