/**
 * The one line written to stderr when a listener or a manager server drops a
 * peer that misbehaved (garbage, a cut or oversized frame, a failed or
 * skipped auth key handshake, a malformed request): it names where, the peer
 * and the reason, so the operator sees why a client was cut off while the
 * listener and its other clients go on.
 */
import type { Connection } from "./connection.ts";

/** Accepted connections whose stream problems are logged: the listener and peer names of each. */
const accepted = new WeakMap<Connection, { where: string; peer: string }>();

/**
 * Writes `multiproc: <where>: dropped peer <peer>: <reason>` to stderr.
 * @param where the listener or server, e.g. `Listener 127.0.0.1:5000`
 * @param peer the peer's address, e.g. `127.0.0.1:41234`
 */
export function logDroppedPeer(where: string, peer: string, reason: string): void {
  process.stderr.write(`multiproc: ${where}: dropped peer ${peer}: ${reason}\n`);
}

/** Marks `conn` as accepted from `peer` by `where`: a broken stream on it is logged once (see `logBrokenStream`). */
export function notePeer(conn: Connection, where: string, peer: string): void {
  accepted.set(conn, { where, peer });
}

/** The listener and peer names of an accepted connection, if it is one. */
export function peerOf(conn: Connection): { where: string; peer: string } | undefined {
  return accepted.get(conn);
}

/** Logs, once, that the peer of an accepted connection sent a frame that breaks the stream, or cut one short. */
export function logBrokenStream(conn: Connection, reason: string): void {
  const p = accepted.get(conn);
  if (p === undefined) return;
  accepted.delete(conn);
  logDroppedPeer(p.where, p.peer, reason);
}
