/**
 * Connection: one end of a Pipe (Python: `multiprocessing.connection.Connection`),
 * a unix stream socket carrying framed messages (see `framing.ts`).
 */
import { registerReducer } from "../codec/reducers.ts";
import { EOFError, ProcessError } from "../errors.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { closeFd } from "../native/file.ts";
import { waitReady } from "../native/poll.ts";
import { checkTimeout } from "../timeout.ts";
import { deadlineOf, timeLeft } from "../wait/deadline.ts";
import { waitUntil } from "../wait/poll.ts";
import { receiveSpinMs, spinFor, spinStep } from "../wait/spin.ts";
import { SPIN_TRIES } from "../wait/tuning.ts";
import { type Carried, decodeCarrying, encodeCarrying, type FdRef, shareFd, takeFd } from "./fd-transfer.ts";
import { closeOwnedFd, ownFd } from "./realm-fds.ts";
import { nextStallMs, STALL_MS, writeMessage } from "./framing.ts";
import { type Message, MessageReader, type Unread } from "./message-reader.ts";
import { logBrokenStream } from "./peer-log.ts";

/** Pause of a sync `poll` while part of a message has arrived and the rest has not (ms). */
const PARTIAL_PAUSE_MS = 1;

/**
 * A Connection dropped without `close()` closes its socket when collected, as
 * Python's does in `__del__`: otherwise the other end would never see the end
 * of the stream.
 */
const dropped = new FinalizationRegistry<{ fd: number; reader: MessageReader }>((held) => {
  held.reader.dispose();
  closeOwnedFd(held.fd);
});

/** Set by Connection's static block (declared before the class, which runs it): they reach its private parts. */
let setReadAhead: (conn: Connection) => void;
let writeCarried: (conn: Connection, carried: Carried) => void;

/** How a Connection travels to another process. */
interface ConnectionState {
  fd: FdRef;
  /** A TCP connection: no descriptor travels on it. */
  inet?: true;
  readable: boolean;
  writable: boolean;
  /** Bytes (and descriptors) this end had read but not yet returned, and its read state (see `Unread`). */
  unread?: Omit<Unread, "fds"> & { fds: FdRef[] };
}

/**
 * One end of a Pipe. `send`/`recv` carry any value the codec carries
 * (structured-clone data, errors, library objects such as Locks, Queues and
 * other Connections); `sendBytes`/`recvBytes` carry raw bytes. Mirrors
 * Python's `Connection`; waits are in milliseconds.
 *
 * @example
 * const [parentEnd, childEnd] = mp.Pipe();
 * new mp.Process({ target: worker, args: [childEnd] }).start();
 * childEnd.close();
 * parentEnd.send({ task: 1 });
 * console.log(await parentEnd.recv());
 */
export class Connection {
  #fd: number;
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #reader: MessageReader;
  /** A TCP socket: values that hold descriptors or shared memory are refused, large messages stream. */
  readonly #inet: boolean;
  /** Payload bytes sent since the last receive began (see `receiveSpinMs`). */
  #sent = 0;
  /** How long a CHUNKED send waits for the peer to read before it puts the rest in a memfd (see `nextStallMs`). */
  #stallMs = STALL_MS;

  /**
   * Wraps socket descriptor `fd`, which the connection now owns. Use `Pipe()`,
   * `Listener` or `Client` to make connections.
   * @internal
   */
  constructor(fd: number, readable = true, writable = true, unread?: Unread, inet = false) {
    this.#fd = ownFd(fd);
    this.#readable = readable;
    this.#writable = writable;
    this.#inet = inet;
    this.#reader = new MessageReader(fd, unread);
    dropped.register(this, { fd, reader: this.#reader }, this);
  }

  #open(what: string): number {
    if (this.#fd < 0) throw new ProcessError(`Cannot ${what}: the connection is closed`);
    return this.#fd;
  }

  #forWriting(what: string): number {
    const fd = this.#open(what);
    if (!this.#writable) throw new ProcessError(`Cannot ${what}: the connection is read-only`);
    return fd;
  }

  #forReading(what: string): number {
    const fd = this.#open(what);
    if (!this.#readable) throw new ProcessError(`Cannot ${what}: the connection is write-only`);
    return fd;
  }

  /**
   * Sends a value; it is encoded here, so a value that cannot travel throws
   * at once and the connection stays usable (Python: `send`).
   * @throws PicklingError naming the path of the value that cannot be sent (`obj.handler`)
   * @throws EOFError when the other end is closed
   */
  send(obj: unknown): void {
    const fd = this.#forWriting("send");
    this.#writeCarried(fd, encodeCarrying(obj, "obj", this.#inet));
  }

  #writeCarried(fd: number, { bytes, fds }: Carried): void {
    this.#write(fd, bytes, fds);
    this.#sent += bytes.byteLength;
  }

  /**
   * Sends raw bytes: `size` bytes from `offset`, both counted in bytes of the
   * view (Python: `send_bytes(buf, offset, size)`).
   * @throws RangeError when offset or size fall outside the view
   */
  sendBytes(buf: ArrayBufferView, offset = 0, size?: number): void {
    const fd = this.#forWriting("send bytes");
    if (!ArrayBuffer.isView(buf)) throw new TypeError(`sendBytes needs an ArrayBufferView, got ${typeof buf}`);
    const n = buf.byteLength;
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`sendBytes offset must be >= 0, got ${offset}`);
    if (offset > n) throw new RangeError(`sendBytes offset ${offset} is past the end of a ${n}-byte buffer`);
    const length = size ?? n - offset;
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`sendBytes size must be >= 0, got ${size}`);
    if (offset + length > n) {
      throw new RangeError(`sendBytes offset + size (${offset + length}) is past the end of a ${n}-byte buffer`);
    }
    this.#write(fd, new Uint8Array(buf.buffer, buf.byteOffset + offset, length), []);
    this.#sent += length;
  }

  #write(fd: number, bytes: Uint8Array, fds: readonly number[]): void {
    this.#stallMs = nextStallMs(this.#stallMs, writeMessage(fd, bytes, fds, this.#inet, this.#stallMs));
  }

  /**
   * Blocks the calling thread until a value arrives (Python: `recv`).
   * @throws EOFError when the other end is closed and nothing is left to read, or
   * a malformed frame arrived (the message names the field; every later receive throws it too)
   */
  recvSync(): unknown {
    return this.#decode(this.#nextSync("receive"));
  }

  /**
   * Waits for a value without blocking the event loop. While it waits it takes
   * nothing from the socket (issue #18): a small message is taken once it is
   * whole, a big one (over 64 KiB) from when its header is in, so a receive
   * left pending when the process exits loses no message but one it had begun.
   * @throws EOFError as `recvSync`
   */
  recv(): Promise<unknown> {
    // An answer that came within the spin goes back without an async function's promise jobs (#20).
    try {
      const m = this.#answerNow("receive", undefined);
      if (m !== undefined) return Promise.resolve(this.#decode(m));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#waitNext("receive", undefined).then((m) => this.#decode(m));
  }

  /**
   * Blocks until a message arrives and returns its bytes (Python: `recv_bytes`).
   * @param maxLength longest message accepted; a longer one is refused from
   * its header: dropped (never held in memory) and this throws
   * @throws RangeError when the message is longer than `maxLength` (the connection stays usable)
   * @throws EOFError as `recvSync`
   */
  recvBytesSync(maxLength?: number): Uint8Array {
    checkMaxLength(maxLength);
    return this.#bytes(this.#nextSync("receive bytes", maxLength), maxLength);
  }

  /** Async form of `recvBytesSync`. */
  async recvBytes(maxLength?: number): Promise<Uint8Array> {
    checkMaxLength(maxLength);
    return this.#bytes(await this.#next("receive bytes", maxLength), maxLength);
  }

  /**
   * Whether a message (or the end of the stream) is ready to be received,
   * waiting at most `timeout` ms (Python: `poll`). Blocks the calling thread
   * while it waits; use `pollAsync` in async code. A message too big for the
   * read buffer counts as ready once its header is in (so `recvBytes(maxLength)`
   * can still refuse it unread); as in Python, receiving it may then wait for
   * the rest. Like Python's, it takes nothing from the socket (issue #18): a
   * message this process polled but did not receive stays readable by every
   * other holder of this end, also after this process exits.
   */
  poll(timeout = 0): boolean {
    const fd = this.#forReading("poll");
    const deadline = deadlineOf(checkTimeout(timeout, "Connection.poll"));
    if (timeout > 0 && spinFor(() => this.#reader.ready() || undefined, deadline)) return true;
    for (let tries = 0; ; tries++) {
      if (this.#reader.ready()) return true;
      const left = timeLeft(deadline);
      if (left === 0) return false;
      if (!waitReady(fd, "read", left)) return this.#reader.ready();
      // Just woken: look at once. A yield here, on a loaded machine, hands the
      // CPU away for a time slice on every wake (an auth handshake has three).
      if (this.#reader.ready()) return true;
      // Readable, yet no whole message: the rest of one is on its way, and
      // since nothing was taken the socket stays readable, so pause instead.
      if (tries < SPIN_TRIES) spinStep();
      else Bun.sleepSync(Math.min(PARTIAL_PAUSE_MS, left ?? PARTIAL_PAUSE_MS));
    }
  }

  /** Like `poll`, without blocking the event loop. */
  async pollAsync(timeout = 0): Promise<boolean> {
    this.#forReading("poll");
    const deadline = deadlineOf(checkTimeout(timeout, "Connection.poll"));
    return waitUntil(() => this.#fd >= 0 && this.#reader.ready(), deadline, [this.#fd]);
  }

  #nextSync(what: string, limit?: number): Message {
    const fd = this.#forReading(what);
    const sent = this.#sent;
    this.#sent = 0;
    let spinUntil = 0;
    let spin = true;
    for (let tries = 0; ; tries++) {
      const m = this.#nextOrLog(limit);
      if (m !== undefined) return m;
      if (tries === 0) spinUntil = performance.now() + receiveSpinMs(sent);
      // A contended CPU (a slow yield) ends the spin: see `spinStep`.
      if (spin && (tries < SPIN_TRIES || performance.now() < spinUntil)) spin = spinStep();
      else waitReady(fd, "read", undefined);
    }
  }

  async #next(what: string, limit?: number): Promise<Message> {
    return this.#answerNow(what, limit) ?? (await this.#waitNext(what, limit));
  }

  /** The answer to what this end sent since the last receive, when it comes within the spin (see `#spinForAnswer`). */
  #answerNow(what: string, limit: number | undefined): Message | undefined {
    const sent = this.#sent;
    this.#sent = 0;
    return sent > 0 ? this.#spinForAnswer(what, limit, sent) : undefined;
  }

  /** The next message, waited for without blocking the event loop. */
  async #waitNext(what: string, limit: number | undefined): Promise<Message> {
    const pid = process.pid;
    for (;;) {
      if (forkedSince(pid)) await forever;
      this.#forReading(what); // also when closed while waiting
      // Only a message `ready()` saw whole (or the end, or a big one's header) is taken.
      if (this.#reader.ready()) {
        const m = this.#nextOrLog(limit);
        if (m !== undefined) return m;
      }
      // Waits taking nothing (issue #18): a recv this process leaves pending
      // when it exits takes no message from the other holders of this end.
      // Another recv of this connection may take the message first: loop.
      await waitUntil(() => this.#fd < 0 || this.#reader.ready(), Number.POSITIVE_INFINITY, [this.#fd]);
    }
  }

  /**
   * The answer to what this end just sent, when it comes within the short,
   * bounded spin of `recvSync` (SPIN_TRIES yields, at least `receiveSpinMs`): a manager call's or an echo's reply comes
   * in tens of µs, while the event loop's re-checks (`waitUntil`) add a turn
   * or a sleep to every round trip (#20: an awaited manager call measured
   * 10x its Sync form). Blocks the event loop at most that long. Like the
   * async wait, it takes a message only once `ready()` says it is whole, so a
   * receive left pending takes nothing (issue #18).
   */
  #spinForAnswer(what: string, limit: number | undefined, sent: number): Message | undefined {
    const until = performance.now() + receiveSpinMs(sent);
    for (let tries = 0; ; tries++) {
      this.#forReading(what);
      if (this.#reader.ready()) return this.#nextOrLog(limit);
      // As `recvSync`: SPIN_TRIES yields, and as long as the answer may take.
      if (tries >= SPIN_TRIES && performance.now() >= until) return undefined;
      // Even on a contended CPU: the event loop's wait is no kernel sleep a reply would wake.
      spinStep();
    }
  }

  /** The reader's next message; a stream a listener's peer broke is logged (peer-log.ts) before the error goes on. */
  #nextOrLog(limit: number | undefined): Message | undefined {
    try {
      return this.#reader.next(limit);
    } catch (err) {
      if (err instanceof EOFError && this.#reader.cutShort) logBrokenStream(this, err.message);
      throw err;
    }
  }

  #decode(m: Message): unknown {
    return decodeCarrying(m.bytes, m.fds);
  }

  #bytes(m: Message, maxLength: number | undefined): Uint8Array {
    for (const fd of m.fds) closeFd(fd); // descriptors only come with `send`
    // The reader refuses a long message from its header; this catches one a `recv` had started reading.
    if (maxLength !== undefined && m.bytes.byteLength > maxLength) {
      throw new RangeError(
        `Message of ${m.bytes.byteLength} bytes is longer than maxLength ${maxLength}; it was dropped`,
      );
    }
    return m.owned === true ? m.bytes : m.bytes.slice();
  }

  /** Closes this end (Python: `close`). Closing twice is allowed. */
  close(): void {
    if (this.#fd < 0) return;
    dropped.unregister(this);
    this.#reader.dispose();
    closeOwnedFd(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The socket descriptor (Python: `fileno`). */
  fileno(): number {
    return this.#open("get fileno");
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  get readable(): boolean {
    return this.#readable;
  }

  get writable(): boolean {
    return this.#writable;
  }

  toString(): string {
    const mode = this.#readable && this.#writable ? "duplex" : this.#readable ? "read-only" : "write-only";
    return `<Connection ${this.#fd < 0 ? "closed" : `fd=${this.#fd}`} ${mode}>`;
  }

  static {
    setReadAhead = (conn) => conn.#reader.readAhead();
    writeCarried = (conn, carried) => conn.#writeCarried(conn.#forWriting("send"), carried);
    registerReducer(Connection, {
      tag: "Connection",
      reduce(conn: Connection): ConnectionState {
        const fd = conn.#open("send a connection");
        const unread = conn.#reader.unread();
        const state: ConnectionState = { fd: shareFd(fd), readable: conn.#readable, writable: conn.#writable };
        if (conn.#inet) state.inet = true;
        if (
          unread.bytes.byteLength > 0 ||
          unread.fds.length > 0 ||
          unread.skip ||
          unread.broken !== undefined ||
          unread.refusedChunked !== undefined
        ) {
          state.unread = { ...unread, fds: unread.fds.map(shareFd) };
        }
        return state;
      },
      rebuild(raw: unknown): Connection {
        const s = raw as ConnectionState;
        const unread = s.unread && { ...s.unread, fds: s.unread.fds.map(takeFd) };
        return new Connection(takeFd(s.fd), s.readable, s.writable, unread, s.inet === true);
      },
    });
  }
}

/**
 * Lets `conn` read ahead (message-reader.ts): each read takes all its socket
 * has, and bytes past the message received stay in this process's buffer for
 * the next receive, which saves one or two reads per message (#20: a manager
 * call went from three reads to two). Only for a connection this process
 * alone reads, never handed to another process: the manager link's client
 * connections and those its server accepts. Issue #18's rule (take nothing
 * past the message) is for sockets others hold too: what a read takes ahead
 * would be lost to them.
 *
 * Descriptors are allowed: manager calls carry them (a value over 1 MiB goes
 * out of line as a memfd; a Queue or Connection argument sends its socket),
 * and they are safe. The kernel detaches a packet's descriptors with the read
 * that takes its first byte, which is the first byte of a header, and ends
 * that read there; so a read carries at most one message's descriptors
 * however far it reads, and the reader's stream-range check (message-reader.ts
 * header) gives them to the header inside that range, as without read-ahead.
 * (Only a hostile writer notices a difference: descriptors it attaches to a
 * payload byte are taken by a header earlier in the same read instead of
 * breaking the stream; they are still owned by one message and closed with it.)
 * @internal
 */
export function readAhead(conn: Connection): Connection {
  setReadAhead(conn);
  return conn;
}

/**
 * Sends a value `encodeCarrying` already encoded for a unix socket (with its
 * descriptors), as `send` would: for a caller that encoded it to choose a way
 * to send it (a manager call's lane, lane.ts) and must not encode it twice.
 * @internal
 */
export function sendCarried(conn: Connection, carried: Carried): void {
  writeCarried(conn, carried);
}

function checkMaxLength(maxLength: number | undefined): void {
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 0)) {
    throw new RangeError(`maxLength must be an integer >= 0, got ${String(maxLength)}`);
  }
}
