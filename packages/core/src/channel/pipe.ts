/** Pipe: a pair of connected Connections (Python: `multiprocessing.Pipe`). */
import { setSocketBuffers, socketPair } from "../native/socket.ts";
import { Connection } from "./connection.ts";

/**
 * Socket buffer size asked of the kernel. Large enough that messages up to the
 * out-of-line threshold (1 MiB) rarely wait for the reader; the kernel caps it
 * at net.core.wmem_max.
 */
const SOCKET_BUFFER = 4 << 20;

/**
 * Two connected Connections over a unix socket pair. Duplex (the default):
 * both ends send and receive. One-way (`duplex = false`): `[reader, writer]`,
 * the first only receives and the second only sends, as in Python.
 *
 * @example
 * const [a, b] = mp.Pipe();
 * a.send(new Map([["spam", 42]]));
 * console.log(b.recvSync()); // Map { "spam" => 42 }
 */
export function Pipe(duplex = true): [Connection, Connection] {
  const [x, y] = socketPair("stream");
  setSocketBuffers(x, SOCKET_BUFFER);
  setSocketBuffers(y, SOCKET_BUFFER);
  if (duplex) return [new Connection(x, true, true), new Connection(y, true, true)];
  return [new Connection(x, true, false), new Connection(y, false, true)];
}
