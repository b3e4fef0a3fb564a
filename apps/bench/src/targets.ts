/** Exported child targets for the benchmarks (spawn and worker children import this module). */
import { type Address, ClientSync, type Connection, type Lock, SharedMemory } from "@multiproc/core";
import { native } from "@multiproc/core/internal";

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

/** Yields before a raw receive sleeps: the same spin as a Connection's (wait/tuning.ts SPIN_TRIES). */
const RAW_SPIN_TRIES = 32;

/**
 * Receives whatever is queued on socket `fd` into `buf` with bare system
 * calls (no framing, no codec): spins RAW_SPIN_TRIES yields, then sleeps in
 * poll(2). Returns the byte count, 0 at the end of the stream.
 */
export function rawReceive(fd: number, buf: Uint8Array): number {
  for (let tries = 0; ; tries++) {
    const n = native.receiveSome(fd, buf, 0, buf.byteLength, undefined);
    if (n >= 0) return n;
    if (tries < RAW_SPIN_TRIES) native.yieldThread();
    else native.waitReady(fd, "read", 10_000);
  }
}

/** Sends all of `bytes` on socket `fd` with bare system calls. */
export function rawSend(fd: number, bytes: Uint8Array): void {
  for (let sent = 0; sent < bytes.byteLength; ) {
    const n = native.sendSome(fd, bytes, sent, bytes.byteLength - sent);
    if (n >= 0) sent += n;
    else native.waitReady(fd, "write", 10_000);
  }
}

/**
 * Echoes raw bytes on the socket of `conn` until a message starting with 0
 * (the kernel's floor under the Listener/Client and manager round trips).
 */
export function rawEcho(conn: Connection): void {
  const fd = conn.fileno();
  const buf = new Uint8Array(256);
  for (;;) {
    const n = rawReceive(fd, buf);
    if (n === 0 || buf[0] === 0) break;
    rawSend(fd, buf.subarray(0, n));
  }
  conn.close();
}
