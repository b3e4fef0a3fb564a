/**
 * The wire format of a Connection, and the sending side of it.
 *
 * A Connection is a unix stream socket; each message is a header and its
 * payload (little-endian):
 *
 *     u32 length    payload bytes
 *     u16 fds       descriptors attached (SCM_RIGHTS, sent with the header's first byte)
 *     u8  flags     OUT_OF_LINE or CHUNKED: how the payload follows (below); 0: all of it, next
 *     u8  0
 *     u32 streamed  (OUT_OF_LINE only) payload bytes that follow in the stream;
 *     u32 0         the other `length - streamed` are in the first attached
 *                   descriptor, a memfd, from its start
 *
 * A CHUNKED message's payload follows as pieces, each a frame of its own:
 * plain frames (no descriptors, at least one byte) in order, and possibly
 * last an OUT_OF_LINE frame that streams nothing and holds all the rest in
 * its memfd. The pieces' lengths add up to the message's.
 *
 * The reader (message-reader.ts) checks every field before it allocates or
 * reads anything on its word (issue #16): length at most MAX_MESSAGE (1 GiB,
 * the ceiling of one message both ways: `send` refuses a longer one, and a
 * longer length read from a peer is a broken stream, however much follows);
 * fds at most MAX_FDS and equal to the descriptors that came with the header;
 * no flag but one of OUT_OF_LINE and CHUNKED; the zero bytes zero; for
 * OUT_OF_LINE, fds >= 1, streamed <= length, and a memfd of exactly
 * `length - streamed` bytes; for a piece, the rules above and a length of 1
 * to what is left of its message. A frame that breaks one of these leaves no
 * way to find the next header: the read side stops there, closes the
 * descriptors it holds, and every receive throws an EOFError naming the field
 * ("Connection frame: streamed 65536 exceeds length 16"). `recvBytes(maxLength)`
 * refuses a longer message from its header: its bytes are dropped as they
 * arrive, in buffer-sized reads.
 *
 * Small messages go in the stream, header and payload in one system call
 * (Python's connection.py does the same, issue #20540). A message over
 * CHUNKED_MIN that does not fit in the socket buffer goes CHUNKED: a piece
 * as large as the buffer has room for each time the peer has drained it, and
 * once the peer has left the buffer full for STALL_MS, the rest in a memfd. So `send`
 * never blocks for long on a peer that is not reading (CPython's blocks for
 * good: that is how a child that sends a large result and a parent that joins
 * it before receiving deadlock) and the data survives the sender exiting right
 * after, while a peer that reads gets it all through the socket. Measured
 * with 16 MiB round trips process to process (#18): 4.3-5.1 ms all through the
 * socket, 17-22 ms with all but the first ~200 KB in a memfd (a fresh memfd's
 * pages are allocated and zeroed, copied in, copied out and freed), CPython
 * 18-28 ms.
 */
import { BackendError, EOFError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { Errno } from "../native/libc.ts";
import { memfdWith } from "../native/memfd.ts";
import { waitReady } from "../native/poll.ts";
import { sendBufferSize, sendBufferUsed, sendParts, sendSome } from "../native/socket.ts";

/** Bytes of a message header. */
export const HEADER = 8;
/** Bytes of the header of an OUT_OF_LINE message. */
export const EXTENDED_HEADER = 16;
/** Header field offsets (RESERVED and RESERVED_EXTENDED are always 0). */
export const Field = { LENGTH: 0, FDS: 4, FLAGS: 6, RESERVED: 7, STREAMED: 8, RESERVED_EXTENDED: 12 } as const;
/** Header flag: the end of the payload is in the memfd attached first. */
export const OUT_OF_LINE = 1;
/** Header flag: the payload follows as pieces, each a frame (see above). */
export const CHUNKED = 2;
/** Payloads larger than this go CHUNKED when they do not fit in the socket buffer; smaller ones block until they do. */
export const CHUNKED_MIN = 1 << 20;
/**
 * How long (ms) a CHUNKED send waits for the peer to make room before the
 * rest goes in a memfd: a peer blocked in a receive drains the buffer in
 * well under 1 ms, one that is busy elsewhere may not read for seconds.
 * A Connection waits less after a peer left it waiting (see `nextStallMs`).
 */
export const STALL_MS = 10;
/** The shortest wait a Connection comes down to for a peer that keeps leaving the buffer full. */
const MIN_STALL_MS = 0.25;

/** How a message went: whole in the stream, CHUNKED all through it, or CHUNKED with its rest in a memfd. */
export type Sent = "plain" | "streamed" | "spilled";

/**
 * The stall a connection gives its next CHUNKED send, after one that went
 * `sent` with `stallMs`: a peer that left the buffer full (busy between its
 * receives) is likely busy next time too, so the sender waits less for it,
 * and once a peer read a whole one as it came, the full wait again.
 */
export function nextStallMs(stallMs: number, sent: Sent): number {
  if (sent === "spilled") return Math.max(MIN_STALL_MS, stallMs / 4);
  return sent === "streamed" ? STALL_MS : stallMs;
}
/** A piece is at least this long unless the buffer is smaller or the message ends: the rest waits for room. */
const MIN_PIECE = 64 * 1024;
/** Share of the free socket buffer a message may fill (the kernel counts some overhead per packet: 1.6% measured). */
const BUFFER_SHARE = 0.9;
/**
 * Largest message, sent or received (1 GiB). The length field could say 4 GiB;
 * the ceiling bounds what a peer's header can make the reader allocate.
 */
export const MAX_MESSAGE = 1 << 30;
/** Messages up to this size are copied behind their header and sent with one call. */
const COPY_MAX = 16 * 1024;

const scratch = new Uint8Array(HEADER + COPY_MAX);
const scratchView = new DataView(scratch.buffer);

/** Writes a message or piece header at `at` (the extended fields of OUT_OF_LINE are the caller's). */
export function writeHeader(view: DataView, at: number, length: number, fds: number, flags: number): void {
  view.setUint32(at + Field.LENGTH, length, true);
  view.setUint16(at + Field.FDS, fds, true);
  view.setUint8(at + Field.FLAGS, flags);
  view.setUint8(at + Field.RESERVED, 0);
}

/** Turns EPIPE / ECONNRESET into an error that says what happened. */
function peerClosed(err: unknown): never {
  if (err instanceof BackendError && (err.errno === Errno.EPIPE || err.errno === Errno.ECONNRESET)) {
    throw new EOFError("Cannot send: the other end of the connection is closed", { cause: err });
  }
  throw err;
}

/**
 * Sends one message on socket `fd`, blocking while the socket buffer is full.
 * `fds` are attached (the caller keeps its own copies). `streamOnly` (TCP):
 * never send part of a large message as a memfd. `stallMs`: how long a
 * CHUNKED send waits for room before the rest goes in a memfd.
 * @throws EOFError when the other end is closed
 */
export function writeMessage(
  fd: number,
  payload: Uint8Array,
  fds: readonly number[],
  streamOnly = false,
  stallMs = STALL_MS,
): Sent {
  if (payload.byteLength > MAX_MESSAGE) {
    throw new RangeError(`Message of ${payload.byteLength} bytes is larger than the limit of ${MAX_MESSAGE}`);
  }
  try {
    // A TCP peer cannot take a memfd: it gets every byte in the stream, as from Python.
    if (payload.byteLength > CHUNKED_MIN && !streamOnly && roomFor(fd) < payload.byteLength) {
      return writeChunked(fd, payload, fds, stallMs);
    }
    if (payload.byteLength <= COPY_MAX && fds.length === 0) {
      writeHeader(scratchView, 0, payload.byteLength, 0, 0);
      scratch.set(payload, HEADER);
      writeSmall(fd, HEADER + payload.byteLength);
      return "plain";
    }
    const head = new Uint8Array(HEADER);
    writeHeader(new DataView(head.buffer), 0, payload.byteLength, fds.length, 0);
    writeAll(fd, head, payload, fds);
    return "plain";
  } catch (err) {
    peerClosed(err);
  }
}

/** Bytes a write to socket `fd` can take now without blocking, of a socket buffer of `size` bytes. */
function roomFor(fd: number, size = sendBufferSize(fd)): number {
  return Math.floor((size - sendBufferUsed(fd)) * BUFFER_SHARE);
}

/**
 * Sends `payload` as a CHUNKED message: a piece each time the buffer has
 * room for one, and the rest as a memfd once the peer has left it full for
 * STALL_MS.
 */
function writeChunked(fd: number, payload: Uint8Array, fds: readonly number[], stallMs: number): Sent {
  const size = sendBufferSize(fd);
  const minPiece = Math.min(MIN_PIECE, Math.floor((size * BUFFER_SHARE) / 2));
  // The message's header goes with its first piece, and its descriptors with it.
  let head: Uint8Array | undefined = new Uint8Array(HEADER);
  writeHeader(new DataView(head.buffer), 0, payload.byteLength, fds.length, CHUNKED);
  let sent = 0;
  let progress = performance.now();
  while (sent < payload.byteLength) {
    const left = payload.byteLength - sent;
    const n = Math.min(left, roomFor(fd, size) - 2 * HEADER);
    if (n >= minPiece || n === left) {
      writeAll(fd, withPieceHeader(head, n, 0), payload.subarray(sent, sent + n), head === undefined ? [] : fds);
      head = undefined;
      sent += n;
      progress = performance.now();
      continue;
    }
    const wait = stallMs - (performance.now() - progress);
    if (wait > 0 && waitReady(fd, "write", wait)) continue;
    // Its own write: a read takes a packet's descriptors with its first byte, which is the piece's header.
    if (head !== undefined) writeAll(fd, head, undefined, fds);
    const memfd = memfdWith(payload.subarray(sent));
    try {
      writeAll(fd, withPieceHeader(undefined, left, OUT_OF_LINE), undefined, [memfd]);
    } finally {
      closeFd(memfd);
    }
    return "spilled";
  }
  return "streamed";
}

/**
 * A piece's header (`length` bytes; an OUT_OF_LINE one streams nothing),
 * behind the message's header `head` if that is not sent yet.
 */
function withPieceHeader(head: Uint8Array | undefined, length: number, flags: number): Uint8Array {
  const size = flags === OUT_OF_LINE ? EXTENDED_HEADER : HEADER;
  const at = head?.byteLength ?? 0;
  const bytes = new Uint8Array(at + size);
  if (head !== undefined) bytes.set(head);
  writeHeader(new DataView(bytes.buffer), at, length, flags === OUT_OF_LINE ? 1 : 0, flags);
  return bytes;
}

/** Writes the first `length` bytes of `scratch` with send(2), which is cheaper than sendmsg. */
function writeSmall(fd: number, length: number): void {
  let sent = 0;
  while (sent < length) {
    const n = sendSome(fd, scratch, sent, length - sent);
    if (n >= 0) sent += n;
    else waitReady(fd, "write", undefined);
  }
}

/** Writes `head` then `body` completely; the descriptors go with the first byte. */
function writeAll(fd: number, head: Uint8Array, body: Uint8Array | undefined, fds: readonly number[]): void {
  let sent = -1;
  for (;;) {
    sent = sendParts(fd, head, body, fds);
    if (sent >= 0) break;
    waitReady(fd, "write", undefined);
  }
  const total = head.byteLength + (body?.byteLength ?? 0);
  while (sent < total) {
    const [part, at] = sent < head.byteLength ? [head, sent] : [body!, sent - head.byteLength];
    const n = sendSome(fd, part, at, part.byteLength - at);
    if (n >= 0) sent += n;
    else waitReady(fd, "write", undefined);
  }
}
