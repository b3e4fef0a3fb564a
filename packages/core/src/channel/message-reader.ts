/**
 * The receiving side of the Connection wire format (see `framing.ts`): an
 * incremental reader that never blocks. Each `next()` reads what the socket
 * has and returns a whole message once one is there.
 *
 * Small messages are read many at a time into one buffer; a message too big
 * for it is read straight into its own array (and its out-of-line part, if
 * any, from its memfd). Descriptors that arrive are kept in arrival order: the
 * kernel hands over a message's descriptors no later than its header's first
 * byte and never mixes two messages' sets in one read, so the message being
 * read always owns the first `fds` of the queue.
 */
import { EOFError } from "../errors.ts";
import { closeFd, readAt } from "../native/file.ts";
import { receiveSome } from "../native/socket.ts";
import { EXTENDED_HEADER, Field, HEADER, OUT_OF_LINE } from "./framing.ts";

const BUFFER = 64 * 1024;
/** Shared by every message without descriptors; never modified. */
const NO_FDS: number[] = [];

/** A received message: its payload and the descriptors that came with it (owned by the caller). */
export interface Message {
  /** Valid until the next call of `next()` unless `owned`: copy it to keep it. */
  bytes: Uint8Array;
  /** The bytes are the message's own array (a big message), not a view of the buffer. */
  owned?: boolean;
  fds: number[];
}

/** State a Connection hands over when it is sent to another process. */
export interface Unread {
  bytes: Uint8Array;
  fds: number[];
}

/** A message being read into its own array. */
interface Big {
  bytes: Uint8Array;
  /** Bytes of it read from the stream so far. */
  got: number;
  /** Bytes of it that come through the stream; the rest is in its memfd. */
  streamed: number;
  /** Descriptors it owns (with the memfd first when out of line). */
  fds: number;
  outOfLine: boolean;
}

export class MessageReader {
  readonly #fd: number;
  #buf = new Uint8Array(BUFFER);
  #view = new DataView(this.#buf.buffer);
  #start = 0;
  #end = 0;
  /** Received descriptors not yet given to a message. */
  #fds: number[] = [];
  #big: Big | undefined;
  #eof = false;
  // The buffered message's header, once parsed: payload length (-1: not parsed
  // yet), descriptor count, header size, and bytes that come in the stream.
  #length = -1;
  #count = 0;
  #size = 0;
  #streamed = 0;

  constructor(fd: number, unread?: Unread) {
    this.#fd = fd;
    if (unread !== undefined && unread.bytes.byteLength > 0) {
      this.#ensureRoom(unread.bytes.byteLength);
      this.#buf.set(unread.bytes, 0);
      this.#end = unread.bytes.byteLength;
    }
    if (unread !== undefined) this.#fds.push(...unread.fds);
  }

  /**
   * The next whole message, or undefined when it has not fully arrived yet.
   * @throws EOFError when the other end closed and no whole message is left
   */
  next(): Message | undefined {
    return this.fill() ? this.#take() : undefined;
  }

  /**
   * Reads what the socket has, without blocking, until a whole message (or the
   * end of the stream) is buffered. Returns whether one is.
   */
  fill(): boolean {
    for (;;) {
      if (this.#eof) return true;
      const big = this.#big;
      if (big !== undefined) {
        if (big.got === big.streamed) return true;
        const n = receiveSome(this.#fd, big.bytes, big.got, big.streamed - big.got, this.#fds);
        if (n > 0) big.got += n;
        else return this.#starved(n);
        continue;
      }
      if (this.#parse()) {
        if (this.#wholeSmall()) return true;
        if (this.#size === EXTENDED_HEADER || HEADER + this.#length > this.#buf.byteLength) {
          this.#startBig();
          continue;
        }
      }
      this.#ensureRoom(EXTENDED_HEADER);
      const n = receiveSome(this.#fd, this.#buf, this.#end, this.#buf.byteLength - this.#end, this.#fds);
      if (n > 0) this.#end += n;
      else return this.#starved(n);
    }
  }

  /** Parses the buffered message's header once it is all there (cached until the message is taken). */
  #parse(): boolean {
    if (this.#length >= 0) return true;
    const have = this.#end - this.#start;
    if (have < HEADER) return false;
    const at = this.#start;
    const outOfLine = (this.#view.getUint8(at + Field.FLAGS) & OUT_OF_LINE) !== 0;
    if (outOfLine && have < EXTENDED_HEADER) return false;
    this.#length = this.#view.getUint32(at + Field.LENGTH, true);
    this.#count = this.#view.getUint16(at + Field.FDS, true);
    this.#size = outOfLine ? EXTENDED_HEADER : HEADER;
    this.#streamed = outOfLine ? this.#view.getUint32(at + Field.STREAMED, true) : this.#length;
    return true;
  }

  /** Whether a whole small message is in the buffer (its header parsed). */
  #wholeSmall(): boolean {
    return this.#length >= 0 && this.#size === HEADER && this.#end - this.#start >= HEADER + this.#length;
  }

  /** Switches to reading the parsed message into its own array (too big for the buffer, or out of line). */
  #startBig(): void {
    const bytes = new Uint8Array(this.#length);
    const body = this.#start + this.#size;
    const copied = Math.min(this.#end - body, this.#streamed);
    bytes.set(this.#buf.subarray(body, body + copied));
    this.#start = body + copied;
    const outOfLine = this.#size === EXTENDED_HEADER;
    this.#big = { bytes, got: copied, streamed: this.#streamed, fds: this.#count, outOfLine };
    this.#length = -1;
  }

  /** Takes the buffered whole message. @throws EOFError at the end of the stream */
  #take(): Message {
    const big = this.#big;
    if (big !== undefined && big.got === big.streamed) {
      this.#big = undefined;
      const fds = this.#fds.splice(0, big.fds);
      if (big.outOfLine) this.#readRest(big, fds.shift());
      return { bytes: big.bytes, fds, owned: true };
    }
    if (!this.#parse() || !this.#wholeSmall()) {
      throw new EOFError(
        big !== undefined || this.#end > this.#start
          ? "Connection closed in the middle of a message"
          : "The other end of the connection is closed and nothing is left to read",
      );
    }
    const at = this.#start + HEADER;
    const length = this.#length;
    const fds = this.#count;
    this.#start = at + length;
    this.#length = -1;
    return { bytes: this.#buf.subarray(at, at + length), fds: fds === 0 ? NO_FDS : this.#fds.splice(0, fds) };
  }

  /** Reads the out-of-line part of a message from its memfd, and closes that. */
  #readRest(big: Big, memfd: number | undefined): void {
    if (memfd === undefined) throw new EOFError("Connection broken: an out-of-line message arrived without its data");
    try {
      for (let at = big.streamed; at < big.bytes.byteLength; ) {
        const n = readAt(memfd, big.bytes.subarray(at), at - big.streamed);
        if (n === 0) throw new EOFError("Connection broken: an out-of-line message is shorter than its header says");
        at += n;
      }
    } finally {
      closeFd(memfd);
    }
  }

  /** After a read that got nothing: false (would block), or true at the end of the stream. */
  #starved(n: number): boolean {
    if (n === 0) this.#eof = true;
    return n === 0;
  }

  /** Makes room for at least `bytes` more past the buffered data. */
  #ensureRoom(bytes: number): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buf.byteLength - this.#end >= bytes) return;
    const have = this.#end - this.#start;
    if (this.#start > 0 && this.#buf.byteLength - have >= bytes) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(Math.max(this.#buf.byteLength * 2, have + bytes));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#start = 0;
    this.#end = have;
  }

  /** What was read but not yet returned, for handing the connection to another process. */
  unread(): Unread {
    const big = this.#big;
    const rest = this.#buf.subarray(this.#start, this.#end);
    if (big === undefined) return { bytes: rest.slice(), fds: this.#fds };
    // A partial message goes back in wire form: its header, what arrived, then what followed it.
    const size = big.outOfLine ? EXTENDED_HEADER : HEADER;
    const bytes = new Uint8Array(size + big.got + rest.byteLength);
    const view = new DataView(bytes.buffer);
    view.setUint32(Field.LENGTH, big.bytes.byteLength, true);
    view.setUint16(Field.FDS, big.fds, true);
    if (big.outOfLine) {
      view.setUint8(Field.FLAGS, OUT_OF_LINE);
      view.setUint32(Field.STREAMED, big.streamed, true);
    }
    bytes.set(big.bytes.subarray(0, big.got), size);
    bytes.set(rest, size + big.got);
    return { bytes, fds: this.#fds };
  }

  /** Closes descriptors that arrived and were never handed out. */
  dispose(): void {
    for (const fd of this.#fds) closeFd(fd);
    this.#fds = [];
  }
}
