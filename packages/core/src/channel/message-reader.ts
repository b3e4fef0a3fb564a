/**
 * The receiving side of the Connection wire format (see `framing.ts`): an
 * incremental reader that never blocks. Each `next()` reads what the socket
 * has and returns a whole message once one is there.
 *
 * A read never takes bytes past the end of the message being received (issue
 * #18): first the header, then the payload, into one buffer; a message too
 * big for it straight into its own array (and its out-of-line part, if any,
 * from its memfd). Other processes may hold the same socket, and what this one
 * has not received must stay readable for them when it exits: so `ready()`
 * (poll, and an async receive waiting for a message) only peeks at the next
 * header and counts the queued bytes until a receive takes the message. Every
 * header field is checked when the header is parsed, before anything is
 * allocated or read on its word (issue #16).
 *
 * Over 400 lines: one class whose every method reads the same buffer and
 * descriptor state, and the header checks that guard it; split, each part
 * would need the other's private fields.
 *
 * Read-ahead (`readAhead()`, for private connections only: see
 * `readAhead` in connection.ts) drops that rule: each read takes all the
 * socket has, up to the buffer's free room, and the surplus is the start of
 * the next message. `ready()` then reads instead of peeking, so every wait
 * (poll, wait, recvSync's spin, the async receive) sees buffered bytes first
 * and waits on the socket only once it is drained. A message too big for the
 * buffer and a refused one are still read to their end and no further.
 *
 * Descriptors are kept in arrival order, each batch with the stream range of
 * the read that brought it. The kernel hands over a message's descriptors
 * with the read that takes its header's first byte, and ends that read with
 * them (it never mixes two sets in one read): so a header at stream position
 * P that claims n descriptors takes them from the first batch only if that
 * read covered P, and a batch whose read ended before the next header belongs
 * to no frame. Either mismatch breaks the stream like any bad field.
 */
import { EOFError } from "../errors.ts";
import { closeFd, fileStat, readAt } from "../native/file.ts";
import { peerDone } from "../native/poll.ts";
import { MAX_FDS, receiveQueued, receiveSome } from "../native/socket.ts";
import { CHUNKED, EXTENDED_HEADER, Field, HEADER, MAX_MESSAGE, OUT_OF_LINE, writeHeader } from "./framing.ts";
import { unfilledBytes } from "./unfilled-bytes.ts";

/** Messages up to this size (header included) are read into the buffer; longer ones into their own array. */
const BUFFER = 64 * 1024;
/**
 * The buffer a reader starts with; it grows (up to BUFFER, or more for
 * handed-over bytes) when a longer message comes. Allocating 64 KiB for every
 * Connection cost an accept or connect tens of µs in allocation and garbage
 * collection (#20: accepts with an auth key measured 0.2x CPython).
 */
const INITIAL_BUFFER = 1024;
/**
 * Free room a read-ahead read has at least: near the end of the buffer, a
 * read with a few bytes of room would take one message in several reads.
 */
const READ_AHEAD_ROOM = 4096;
/** Bytes `ready()` peeks at: a message this small is seen whole without counting the queue. */
const PEEK = 1024;
/**
 * Where `ready()` peeks at the next header, and at the whole of a message of
 * up to PEEK bytes: one for all readers, since a peek is looked at only
 * within the `ready()` that made it.
 */
const peeked = new Uint8Array(new ArrayBuffer(PEEK));
const peekedView = new DataView(peeked.buffer);
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
  /** Bytes of a refused message still to drop from the socket (`bytes` is then empty). */
  skip?: number;
  /** Why the stream cannot be read any more: a bad frame arrived. */
  broken?: string;
  /**
   * The rest of a refused CHUNKED message, dropped as it arrives: payload
   * bytes still to come, the first `pieceLeft` of them in the piece being read
   * (`bytes` is then empty).
   */
  refusedChunked?: { left: number; pieceLeft: number };
}

/** A message being read into its own array. */
interface Big {
  /** Undefined for a refused CHUNKED message: its bytes are dropped as they arrive. */
  bytes: Uint8Array | undefined;
  /** Payload bytes. */
  length: number;
  /** Bytes of it read from the stream so far. */
  got: number;
  /**
   * Where the bytes that come through the stream end; the rest is in its
   * memfd. CHUNKED: where the piece being read ends (`got` between pieces).
   */
  streamed: number;
  /** Descriptors it owns (with the memfd first when out of line). */
  fds: number;
  outOfLine: boolean;
  chunked: boolean;
}

/** Descriptors that came with one read: the stream range [from, to) it covered, and how many no header claimed yet. */
interface Batch {
  from: number;
  to: number;
  left: number;
}

export class MessageReader {
  readonly #fd: number;
  #buf = new Uint8Array(INITIAL_BUFFER);
  #view = new DataView(this.#buf.buffer);
  #start = 0;
  #end = 0;
  /** Received descriptors not yet given to a message. */
  #fds: number[] = [];
  /** Where in the stream the unclaimed descriptors of `#fds` came from (see the file header). */
  #batches: Batch[] = [];
  /** Bytes read from the socket so far: the stream position of `#end` while buffering. */
  #received = 0;
  #big: Big | undefined;
  /** Bytes of a refused message still to read and drop. */
  #skip = 0;
  #eof = false;
  /** Set once a bad frame arrived: the message every receive then throws. */
  #broken: string | undefined;
  // The buffered message's header, once parsed and checked: payload length
  // (-1: not parsed yet), descriptor count, header size, and bytes that come
  // in the stream.
  #length = -1;
  #count = 0;
  #size = 0;
  #streamed = 0;
  #chunked = false;
  /**
   * Bytes of the next message, header included, when `ready()` last peeked
   * at it whole (0: unknown): the next read takes it in one system call
   * instead of two (header, then payload). Forgotten at every read.
   */
  #peekedWhole = 0;
  /** Reads take all the socket has, not just the message being received (see the file header). */
  #readAhead = false;

  constructor(fd: number, unread?: Unread) {
    this.#fd = fd;
    if (unread === undefined) return;
    const n = unread.bytes.byteLength;
    if (n > 0) {
      this.#ensureRoom(n);
      this.#buf.set(unread.bytes, 0);
      this.#end = n;
    }
    this.#received = n;
    if (unread.fds.length > 0) {
      this.#fds.push(...unread.fds);
      this.#batches.push({ from: 0, to: n, left: unread.fds.length });
    }
    this.#skip = unread.skip ?? 0;
    const refused = unread.refusedChunked;
    if (refused !== undefined) this.#big = refusedChunked(refused.left, refused.pieceLeft);
    if (unread.broken !== undefined) this.#break(unread.broken);
  }

  /**
   * From now on, reads take all the socket has (see the file header): one
   * read per message instead of two or three, for a socket no other process
   * reads from.
   */
  readAhead(): void {
    this.#readAhead = true;
  }

  /**
   * The next whole message, or undefined when it has not fully arrived yet.
   * With `limit`, a longer message is refused from its header: it is dropped
   * (its descriptors closed, its bytes discarded as they arrive) and this throws.
   * @throws RangeError when the message is longer than `limit` (the next one is then readable)
   * @throws EOFError when the other end closed and no whole message is left, or a bad frame arrived
   */
  next(limit?: number): Message | undefined {
    for (;;) {
      if (!this.fill()) return undefined;
      if (this.#big === undefined && this.#skip === 0 && this.#parse()) {
        if (limit !== undefined && this.#length > limit) this.#refuse(limit);
        if (!this.#wholeSmall() && !this.#eof) {
          this.#startBig();
          continue;
        }
      }
      if (this.#broken !== undefined) throw new EOFError(this.#broken);
      return this.#take();
    }
  }

  /** Whether the stream ended badly: a bad frame arrived, or the other end closed in the middle of a message. */
  get cutShort(): boolean {
    return (
      this.#broken !== undefined ||
      (this.#eof && (this.#big !== undefined || this.#skip > 0 || this.#end > this.#start))
    );
  }

  /**
   * Whether `fill()` would find a message to take, taking nothing from the
   * socket between messages (see the file header): it peeks at the next
   * header, and for a small message counts the bytes queued. A big message is
   * ready once its header is in (#16); a malformed header is ready (the receive
   * says what is wrong). A message a receive has started to take is read on,
   * as `fill()` does: its bytes are gone from the socket already.
   */
  ready(): boolean {
    // Read-ahead: no peeking; what is read and not yet taken is buffered, and looked at first.
    if (this.#readAhead) return this.fill();
    if (this.#eof || this.#broken !== undefined || this.#big !== undefined || this.#skip > 0) return this.fill();
    if (this.#end > this.#start) return this.fill();
    const n = receiveSome(this.#fd, peeked, 0, PEEK, undefined, true);
    if (n <= 0) return n === 0; // nothing yet, or the end of the stream
    const view = peekedView;
    const size = n >= HEADER && view.getUint8(Field.FLAGS) === OUT_OF_LINE ? EXTENDED_HEADER : HEADER;
    if (n < size) {
      // The rest of the header is on its way, unless the peek stopped at a
      // packet with descriptors (only a hostile writer splits a header so):
      // then read the stream, as a receive would.
      if (receiveQueued(this.#fd) > n) return this.fill();
      return peerDone(this.#fd); // a cut header: the receive says so
    }
    if (!fieldsKeepRules(view, 0)) return true;
    const whole = HEADER + view.getUint32(Field.LENGTH, true);
    if (size === EXTENDED_HEADER || view.getUint8(Field.FLAGS) === CHUNKED || whole > this.#capacity) return true;
    if (n >= whole || receiveQueued(this.#fd) >= whole) {
      // Only a message without descriptors: those arrive with the read of its first byte, in their own batch.
      if (view.getUint16(Field.FDS, true) === 0) this.#peekedWhole = whole;
      return true;
    }
    return peerDone(this.#fd);
  }

  /**
   * Reads what the socket has, without blocking, until a message can be taken:
   * a whole small one, the header of a big one (the caller reads or refuses
   * it), the whole of a big one being read, the end of the stream, or a bad
   * frame. Returns whether one of those is there.
   */
  fill(): boolean {
    for (;;) {
      if (this.#eof || this.#broken !== undefined) return true;
      let n: number;
      const big = this.#big;
      if (this.#skip > 0) {
        // The buffer is empty while skipping: read the refused bytes into it and forget them.
        this.#ensureRoom(Math.min(this.#skip, BUFFER));
        n = this.#receive(this.#buf, 0, Math.min(this.#skip, this.#buf.byteLength));
        if (n > 0) this.#skip -= n;
      } else if (big !== undefined) {
        if (big.got < big.streamed) {
          n = this.#receiveInto(big);
        } else if (!big.chunked || big.got === big.length) {
          if (big.bytes !== undefined) return true;
          this.#big = undefined; // the end of a refused CHUNKED message
          continue;
        } else if (this.#nextPiece(big)) {
          continue;
        } else if (this.#broken !== undefined) {
          return true;
        } else {
          n = this.#receivePieceHeader();
        }
      } else if (this.#parse()) {
        if (
          this.#size === EXTENDED_HEADER ||
          this.#chunked ||
          HEADER + this.#length > this.#capacity ||
          this.#wholeSmall()
        ) {
          return true;
        }
        n = this.#receiveBuffered();
      } else if (this.#broken !== undefined) {
        return true;
      } else {
        n = this.#receiveBuffered();
      }
      if (n <= 0) return this.#starved(n);
    }
  }

  /** Reads from the socket into `into`, keeping track of the stream position and of where descriptors came. */
  #receive(into: Uint8Array, offset: number, length: number): number {
    this.#peekedWhole = 0;
    const had = this.#fds.length;
    const n = receiveSome(this.#fd, into, offset, length, this.#fds);
    if (this.#fds.length !== had) {
      this.#batches.push({ from: this.#received, to: this.#received + Math.max(n, 0), left: this.#fds.length - had });
    }
    if (n > 0) this.#received += n;
    return n;
  }

  /**
   * Reads into the buffer behind the buffered data: the rest of the header,
   * or once it is parsed the rest of the message, and never more (issue #18)
   * unless reading ahead.
   */
  #receiveBuffered(): number {
    const have = this.#end - this.#start;
    let want: number;
    // A message `ready()` saw whole: all of it, never more (another reader
    // taking it in between is a race the two readers had anyway).
    if (have === 0 && this.#peekedWhole > 0) want = this.#peekedWhole;
    else if (this.#length >= 0) want = this.#size + this.#streamed - have;
    else want = this.#headerSize() - have;
    if (this.#readAhead) {
      // All the socket has that fits: what is past this message stays buffered for the next.
      this.#ensureRoom(Math.max(want, READ_AHEAD_ROOM));
      want = this.#buf.byteLength - this.#end;
    } else this.#ensureRoom(want);
    const n = this.#receive(this.#buf, this.#end, want);
    if (n > 0) this.#end += n;
    return n;
  }

  /**
   * Parses and checks the buffered message's header once it is all there
   * (cached until the message is taken). A bad header breaks the stream and
   * returns false.
   */
  #parse(): boolean {
    if (this.#length >= 0) return true;
    const have = this.#end - this.#start;
    if (have < HEADER) return false;
    const view = this.#view;
    const at = this.#start;
    const flags = view.getUint8(at + Field.FLAGS);
    const outOfLine = flags === OUT_OF_LINE;
    if (outOfLine && have < EXTENDED_HEADER) return false;
    if (!fieldsKeepRules(view, at)) {
      this.#break(badField(view, at));
      return false;
    }
    const length = view.getUint32(at + Field.LENGTH, true);
    const count = view.getUint16(at + Field.FDS, true);
    const chunked = flags === CHUNKED;
    // A CHUNKED message's bytes come in pieces, each with its own header: none right behind this one.
    const streamed = outOfLine ? view.getUint32(at + Field.STREAMED, true) : chunked ? 0 : length;
    if (count > 0 || this.#batches.length > 0) {
      const wrong = this.#claim(count, this.#received - have);
      if (wrong !== undefined) {
        this.#break(wrong);
        return false;
      }
    }
    this.#length = length;
    this.#count = count;
    this.#size = outOfLine ? EXTENDED_HEADER : HEADER;
    this.#streamed = streamed;
    this.#chunked = chunked;
    return true;
  }

  /** Gives `count` descriptors to the header at stream position `at`; returns what is wrong, if anything. */
  #claim(count: number, at: number): string | undefined {
    const batch = this.#batches[0];
    if (batch !== undefined && batch.to <= at) {
      return `Connection frame: ${batch.left} descriptors arrived that no frame's fds field claims`;
    }
    if (count === 0) return undefined;
    const came = batch === undefined || batch.from > at ? 0 : batch.left;
    if (came < count) {
      return came === 0
        ? `Connection frame: fds ${count} but no descriptors arrived with the frame`
        : `Connection frame: fds ${count} but ${came} descriptors arrived with the frame`;
    }
    batch!.left -= count;
    if (batch!.left === 0) this.#batches.shift();
    return undefined;
  }

  /** Whether a whole small message is in the buffer (its header parsed). */
  #wholeSmall(): boolean {
    return (
      this.#length >= 0 && this.#size === HEADER && !this.#chunked && this.#end - this.#start >= HEADER + this.#length
    );
  }

  /** Switches to reading the parsed message into its own array (too big for the buffer, or out of line). */
  #startBig(): void {
    const outOfLine = this.#size === EXTENDED_HEADER;
    if (outOfLine) {
      // Checked before allocating: the memfd must hold exactly the part the stream does not.
      const size = fileStat(this.#fds[0]!).size;
      const rest = this.#length - this.#streamed;
      if (size !== rest) {
        this.#break(`Connection frame: memfd holds ${size} bytes, not length - streamed = ${rest}`);
        return;
      }
    }
    // Filled in full (stream, then memfd) before `#take` hands it out; a cut one is never returned.
    const big: Big = {
      bytes: unfilledBytes(this.#length),
      length: this.#length,
      got: 0,
      streamed: this.#streamed,
      fds: this.#count,
      outOfLine,
      chunked: this.#chunked,
    };
    this.#start += this.#size;
    this.#absorb(big);
    this.#big = big;
    this.#length = -1;
  }

  /** Moves what the buffer holds of `big`'s stream part (or of its piece) into it. */
  #absorb(big: Big): void {
    const copied = Math.min(this.#end - this.#start, big.streamed - big.got);
    big.bytes?.set(this.#buf.subarray(this.#start, this.#start + copied), big.got);
    this.#start += copied;
    big.got += copied;
  }

  /** Reads the stream part of `big` (or of its piece) from the socket: into it, or dropped when refused. */
  #receiveInto(big: Big): number {
    const want = big.streamed - big.got;
    let n: number;
    if (big.bytes !== undefined) {
      n = this.#receive(big.bytes, big.got, want);
    } else {
      this.#ensureRoom(Math.min(want, BUFFER));
      n = this.#receive(this.#buf, this.#end, Math.min(want, this.#buf.byteLength - this.#end));
    }
    if (n > 0) big.got += n;
    return n;
  }

  /** Bytes of the header that starts the buffered data, as far as its flags are in: 16 for OUT_OF_LINE, else 8. */
  #headerSize(): number {
    const have = this.#end - this.#start;
    return have >= HEADER && this.#buf[this.#start + Field.FLAGS] === OUT_OF_LINE ? EXTENDED_HEADER : HEADER;
  }

  /** Reads the next piece's header of a CHUNKED message into the buffer, and nothing past it. */
  #receivePieceHeader(): number {
    const want = this.#headerSize() - (this.#end - this.#start);
    this.#ensureRoom(want);
    const n = this.#receive(this.#buf, this.#end, want);
    if (n > 0) this.#end += n;
    return n;
  }

  /**
   * Takes the header of `big`'s next piece from the buffer once it is all
   * there, checks it against the rules of framing.ts, and starts the piece:
   * what the buffer has of it goes into `big`, and an OUT_OF_LINE piece is
   * read from its memfd at once. Returns whether it did; a bad piece breaks
   * the stream.
   */
  #nextPiece(big: Big): boolean {
    const have = this.#end - this.#start;
    if (have < HEADER) return false;
    const view = this.#view;
    const at = this.#start;
    const outOfLine = view.getUint8(at + Field.FLAGS) === OUT_OF_LINE;
    if (outOfLine && have < EXTENDED_HEADER) return false;
    const bad = this.#badPiece(view, at, big.length - big.got);
    if (bad !== undefined) {
      this.#break(bad);
      return false;
    }
    const length = view.getUint32(at + Field.LENGTH, true);
    this.#start += outOfLine ? EXTENDED_HEADER : HEADER;
    if (!outOfLine) {
      big.streamed = big.got + length;
      this.#absorb(big);
      return true;
    }
    // Its memfd comes after the message's own descriptors.
    const [memfd] = this.#fds.splice(big.fds, 1) as [number];
    let wrong: string | undefined;
    if (big.bytes === undefined) {
      closeFd(memfd);
    } else {
      // Checked before reading, as for a whole OUT_OF_LINE message.
      const size = fileStat(memfd).size;
      if (size === length) wrong = this.#readRest(memfd, big.bytes, big.got);
      else {
        closeFd(memfd);
        wrong = `Connection frame: memfd holds ${size} bytes, not the piece's length ${length}`;
      }
    }
    if (wrong !== undefined) {
      this.#break(wrong);
      return false;
    }
    big.got = big.streamed = big.length;
    return true;
  }

  /** What is wrong with the piece header at `at` of a CHUNKED message with `left` bytes to come, if anything; claims an OUT_OF_LINE piece's memfd. */
  #badPiece(view: DataView, at: number, left: number): string | undefined {
    if (!fieldsKeepRules(view, at)) return badField(view, at);
    const flags = view.getUint8(at + Field.FLAGS);
    const length = view.getUint32(at + Field.LENGTH, true);
    const count = view.getUint16(at + Field.FDS, true);
    if (flags === CHUNKED) return "Connection frame: a piece of a CHUNKED message is CHUNKED itself";
    if (length === 0) return "Connection frame: a piece of a CHUNKED message has length 0";
    if (length > left) return `Connection frame: piece length ${length} exceeds the ${left} bytes left of its message`;
    const position = this.#received - (this.#end - at);
    if (flags !== OUT_OF_LINE) {
      if (count !== 0) {
        return `Connection frame: a piece of a CHUNKED message has fds ${count} (only an OUT_OF_LINE piece has one, its memfd)`;
      }
      return this.#batches.length > 0 ? this.#claim(0, position) : undefined;
    }
    const streamed = view.getUint32(at + Field.STREAMED, true);
    if (count !== 1) return `Connection frame: an OUT_OF_LINE piece has fds ${count}, not 1 (its memfd)`;
    if (streamed !== 0) return `Connection frame: an OUT_OF_LINE piece streams ${streamed} bytes, not 0`;
    if (length !== left) {
      return `Connection frame: an OUT_OF_LINE piece holds ${length} bytes, not the ${left} left of its message`;
    }
    return this.#claim(1, position);
  }

  /** Drops the parsed message: closes its descriptors, skips its bytes (those not here yet as they arrive). */
  #refuse(limit: number): never {
    const length = this.#length;
    for (const fd of this.#fds.splice(0, this.#count)) closeFd(fd);
    if (this.#chunked) {
      // Its pieces are read as they come (their headers checked) and dropped.
      this.#start += this.#size;
      this.#big = refusedChunked(length, 0);
      this.#length = -1;
      throw new RangeError(`Message of ${length} bytes is longer than maxLength ${limit}; it was dropped`);
    }
    const body = this.#start + this.#size;
    const here = Math.min(this.#end - body, this.#streamed);
    this.#start = body + here;
    this.#skip = this.#streamed - here;
    if (this.#skip > 0) this.#start = this.#end = 0; // nothing else is buffered
    this.#length = -1;
    throw new RangeError(`Message of ${length} bytes is longer than maxLength ${limit}; it was dropped`);
  }

  /** Takes the buffered whole message. @throws EOFError at the end of the stream */
  #take(): Message {
    const big = this.#big;
    if (big?.bytes !== undefined && big.got === big.streamed && (!big.chunked || big.got === big.length)) {
      this.#big = undefined;
      const fds = this.#fds.splice(0, big.fds);
      if (big.outOfLine) {
        const wrong = this.#readRest(fds.shift()!, big.bytes, big.streamed);
        if (wrong !== undefined) {
          for (const fd of fds) closeFd(fd);
          this.#break(wrong);
          throw new EOFError(wrong);
        }
      }
      return { bytes: big.bytes, fds, owned: true };
    }
    if (big !== undefined || this.#skip > 0 || !this.#wholeSmall()) {
      throw new EOFError(
        big !== undefined || this.#skip > 0 || this.#end > this.#start
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

  /**
   * Reads the end of a message, from `from` on, out of its memfd, and closes
   * that; returns what is wrong with the memfd, if anything.
   */
  #readRest(memfd: number, bytes: Uint8Array, from: number): string | undefined {
    const rest = bytes.byteLength - from;
    try {
      for (let at = from; at < bytes.byteLength; ) {
        const n = readAt(memfd, bytes.subarray(at), at - from);
        if (n === 0) return `Connection frame: memfd ended at byte ${at - from} of the ${rest} it should hold`;
        at += n;
      }
      return undefined;
    } catch (err) {
      return `Connection frame: memfd cannot be read: ${(err as Error).message}`;
    } finally {
      closeFd(memfd);
    }
  }

  /** Stops reading for good after a bad frame: nothing past it can be found, and what it brought is closed. */
  #break(message: string): void {
    this.#broken = message;
    this.#big = undefined;
    this.#skip = 0;
    this.#length = -1;
    this.#start = this.#end = 0;
    this.dispose();
  }

  /** After a read that got nothing: false (would block), or true at the end of the stream. */
  #starved(n: number): boolean {
    if (n === 0) this.#eof = true;
    return n === 0;
  }

  /** Longest message (header included) read into the buffer rather than its own array. */
  get #capacity(): number {
    return Math.max(BUFFER, this.#buf.byteLength);
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
    if (this.#broken !== undefined) return { bytes: new Uint8Array(0), fds: [], broken: this.#broken };
    if (this.#skip > 0) return { bytes: new Uint8Array(0), fds: this.#fds, skip: this.#skip };
    if (big === undefined) return { bytes: rest.slice(), fds: this.#fds };
    if (big.bytes === undefined) {
      // Between two pieces, a piece's header may be buffered: it goes back too.
      return {
        bytes: rest.slice(),
        fds: this.#fds,
        refusedChunked: { left: big.length - big.got, pieceLeft: big.streamed - big.got },
      };
    }
    // A partial message goes back in wire form: its header, what arrived, then what followed it.
    if (big.chunked) return { bytes: chunkedWireForm(big, rest), fds: this.#fds };
    const size = big.outOfLine ? EXTENDED_HEADER : HEADER;
    const bytes = new Uint8Array(size + big.got + rest.byteLength);
    const view = new DataView(bytes.buffer);
    writeHeader(view, 0, big.length, big.fds, big.outOfLine ? OUT_OF_LINE : 0);
    if (big.outOfLine) view.setUint32(Field.STREAMED, big.streamed, true);
    bytes.set(big.bytes.subarray(0, big.got), size);
    bytes.set(rest, size + big.got);
    return { bytes, fds: this.#fds };
  }

  /** Closes descriptors that arrived and were never handed out. */
  dispose(): void {
    for (const fd of this.#fds) closeFd(fd);
    this.#fds = [];
    this.#batches = [];
  }
}

/**
 * Whether the whole header at `at` keeps the rules of `framing.ts`, all but
 * the one about descriptors (which needs them) and those of a piece: flags
 * (one of OUT_OF_LINE and CHUNKED, or none: 3 is above CHUNKED), zero bytes,
 * length, fds, and for OUT_OF_LINE streamed and fds >= 1.
 */
function fieldsKeepRules(view: DataView, at: number): boolean {
  const flags = view.getUint8(at + Field.FLAGS);
  const length = view.getUint32(at + Field.LENGTH, true);
  const count = view.getUint16(at + Field.FDS, true);
  if (flags > CHUNKED || view.getUint8(at + Field.RESERVED) !== 0 || length > MAX_MESSAGE || count > MAX_FDS) {
    return false;
  }
  if (flags !== OUT_OF_LINE) return true;
  const streamed = view.getUint32(at + Field.STREAMED, true);
  return streamed <= length && count > 0 && view.getUint32(at + Field.RESERVED_EXTENDED, true) === 0;
}

/** Names the first field of the header at `at` that breaks the rules of `framing.ts`. */
function badField(view: DataView, at: number): string {
  const flags = view.getUint8(at + Field.FLAGS);
  const reserved = view.getUint8(at + Field.RESERVED);
  const length = view.getUint32(at + Field.LENGTH, true);
  const count = view.getUint16(at + Field.FDS, true);
  if (flags === (OUT_OF_LINE | CHUNKED)) return "Connection frame: flags 0x3 has both OUT_OF_LINE and CHUNKED";
  if (flags > CHUNKED) {
    return `Connection frame: flags 0x${flags.toString(16)} has bits other than OUT_OF_LINE (0x${OUT_OF_LINE.toString(16)}) or CHUNKED (0x${CHUNKED.toString(16)})`;
  }
  if (reserved !== 0) return `Connection frame: reserved byte ${Field.RESERVED} is ${reserved}, not 0`;
  if (length > MAX_MESSAGE) return `Connection frame: length ${length} exceeds the limit of ${MAX_MESSAGE} bytes`;
  if (count > MAX_FDS) return `Connection frame: fds ${count} exceeds the limit of ${MAX_FDS}`;
  const extended = view.getUint32(at + Field.RESERVED_EXTENDED, true);
  if (extended !== 0) return `Connection frame: reserved bytes 12-15 are ${extended}, not 0`;
  if (count === 0) return "Connection frame: OUT_OF_LINE with fds 0 (its memfd must come first)";
  return `Connection frame: streamed ${view.getUint32(at + Field.STREAMED, true)} exceeds length ${length}`;
}

/** The rest of a refused CHUNKED message: `left` bytes to drop, the first `pieceLeft` in the piece being read. */
function refusedChunked(left: number, pieceLeft: number): Big {
  return { bytes: undefined, length: left, got: 0, streamed: pieceLeft, fds: 0, outOfLine: false, chunked: true };
}

/**
 * A CHUNKED message read in part, in wire form for another reader: its
 * header, one piece with what arrived, the header of the piece being read
 * (whose other bytes the socket still holds), then `rest`.
 */
function chunkedWireForm(big: Big, rest: Uint8Array): Uint8Array {
  const pieceLeft = big.streamed - big.got;
  const headers = HEADER + (big.got > 0 ? HEADER : 0) + (pieceLeft > 0 ? HEADER : 0);
  const bytes = new Uint8Array(headers + big.got + rest.byteLength);
  const view = new DataView(bytes.buffer);
  writeHeader(view, 0, big.length, big.fds, CHUNKED);
  let at = HEADER;
  if (big.got > 0) {
    writeHeader(view, at, big.got, 0, 0);
    bytes.set(big.bytes!.subarray(0, big.got), at + HEADER);
    at += HEADER + big.got;
  }
  if (pieceLeft > 0) {
    writeHeader(view, at, pieceLeft, 0, 0);
    at += HEADER;
  }
  bytes.set(rest, at);
  return bytes;
}
