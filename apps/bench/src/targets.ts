/** Exported child targets for the benchmarks (spawn and worker children import this module). */
import { type Address, ClientSync, type Connection, type Lock, SharedMemory } from "@multiproc/core";

export function noop(): void {}

/** Acquires and releases `lock` `times` times. */
export function hammer(lock: Lock, times: number): void {
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    lock.release();
  }
}

/** Adds 1 to elements `from` (inclusive) to `to` (exclusive) of a shared array. */
export function addOne(array: Float64Array, from: number, to: number): void {
  for (let i = from; i < to; i++) array[i]! += 1;
}

/** Echoes each byte message back until an empty one. */
export function echoBytes(conn: Connection): void {
  for (;;) {
    const bytes = conn.recvBytesSync();
    if (bytes.length === 0) return;
    conn.sendBytes(bytes);
  }
}

/** Attaches to segment `name` and fills part `part` of `parts` with `value` (the SharedMemory benchmark). */
export function fillQuarter(name: string, part: number, parts: number, value: number): void {
  const shm = new SharedMemory({ name });
  const chunk = shm.size / parts;
  shm.buf.fill(value, part * chunk, (part + 1) * chunk);
  shm.close();
}

/** Connects to a Listener and echoes each value back until null (the Listener/Client round trip). */
export function echoClient(address: Address): void {
  const conn = ClientSync(address);
  for (;;) {
    const v = conn.recvSync();
    if (v === null) break;
    conn.send(v);
  }
  conn.close();
}

/** Connects `n` times with `authkey` and closes at once (the accept benchmark). */
export function connectMany(address: Address, authkey: string, n: number): void {
  for (let i = 0; i < n; i++) ClientSync(address, { authkey }).close();
}
