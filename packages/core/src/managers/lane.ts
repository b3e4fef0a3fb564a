/**
 * A manager connection's lane (#20): beside the unix socket of a client's
 * connection to a manager server on the same host, one slot of shared memory
 * for each direction, written by one side and read by the other. A call sent
 * through the socket cost each side a send and one or two receives, about
 * 1 µs of kernel time apiece on the benchmark machine, and most of a round
 * trip; through the lane, a request and its reply cost no system call while
 * both sides are awake.
 *
 * Each side keeps its socket for what the lane does not carry:
 * - waking a side that sleeps: a side that stopped spinning flags itself
 *   asleep and waits on the socket; the other side, having posted, sends a
 *   one-value "doorbell" message (`null`, which is no request or reply) on
 *   the socket when it sees the flag. The flag is stored before the sleeper
 *   looks at the slot a last time, and the slot's sequence number is stored
 *   before the poster looks at the flag, so one of them sees the other.
 * - a message over LANE_BYTES or one with descriptors: its slot says
 *   ON_SOCKET, and the message follows on the socket.
 * - the end: a peer that exits or closes ends the socket's stream, which a
 *   sleeping side sees at once, and a spinning side when it stops spinning.
 *
 * A connection carries one call at a time (a request, then its reply), so
 * one slot per direction is enough. Layout: a header of words (each side's
 * words on a 128-byte line of their own), then the request slot, then the
 * reply slot.
 *
 * Hostile bytes: the peer can write anything in the slots at any time, so a
 * length is read once and checked, and a message is copied out of its slot
 * before it is decoded. The segment's size is sealed (memfd.ts), so the peer
 * cannot shrink it under this side's reads.
 */
import { type Connection, sendCarried } from "../channel/connection.ts";
import { type Carried, decodeCarrying, encodeCarrying, type FdRef, shareFd, takeFd } from "../channel/fd-transfer.ts";
import { closeOwnedFd, ownFd, ownMapping, unmapOwned } from "../channel/realm-fds.ts";
import { registerReducer } from "../codec/reducers.ts";
import { ProcessError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { createFixedSegment, mapFixedSegment, type Segment } from "../native/memfd.ts";
import { waitUntil } from "../wait/poll.ts";
import { receiveSpinMs, spinStep } from "../wait/spin.ts";
import { SPIN_TRIES } from "../wait/tuning.ts";

/** Longest message a lane carries each way (bytes); a longer one goes on the socket. */
export const LANE_BYTES = 64 * 1024;
const HEADER_BYTES = 512;
/** Bytes of a lane's segment: the header and both slots. @internal */
export const SEGMENT_BYTES = HEADER_BYTES + 2 * LANE_BYTES;
/** A slot's length when its message follows on the socket. */
const ON_SOCKET = -1;
/**
 * Loads of the peer's sequence word between two yields of a spin: a yield
 * is a system call (about 1 µs here), a load a few ns, or ~100 ns when the
 * peer just wrote the line, so the spin notices a message well within 1 µs.
 */
const LOADS_PER_YIELD = 256;

/** Header words: what the client writes on one line, what the server writes on the next. */
enum Word {
  REQUEST_SEQ = 0,
  REQUEST_LENGTH = 1,
  CLIENT_ASLEEP = 2,
  REPLY_SEQ = 32,
  REPLY_LENGTH = 33,
  SERVER_ASLEEP = 34,
}

/** The words and slot one side writes, or reads. */
interface Direction {
  readonly seq: Word;
  readonly length: Word;
  readonly asleep: Word;
  readonly slot: Uint8Array;
}

/** The doorbell: the encoded `null` a side sends on the socket to wake a sleeping peer. */
const DOORBELL: Carried = encodeCarrying(null, "obj");

/** A lane dropped without `close()` (a hello the server refused) is unmapped when collected. */
const dropped = new FinalizationRegistry<{ segment: Segment; fd: number }>(({ segment, fd }) => {
  unmapOwned(segment);
  if (fd >= 0) closeOwnedFd(fd);
});

/**
 * One connection's lane, as the client (`Lane.create`, sent to the server in
 * the connection's "hello") or the server (rebuilt from it) holds it.
 */
export class Lane {
  readonly #segment: Segment;
  readonly #words: Int32Array;
  /** The client's descriptor of the segment, kept to send it; -1 on the server (its mapping keeps the memory). */
  #fd: number;
  readonly #out: Direction;
  readonly #in: Direction;
  /** The peer's sequence number last taken. */
  #seen = 0;
  /** Bytes this side last delivered: the peer needs longer to answer a bigger message (see `receiveSpinMs`). */
  #delivered = 0;
  #closed = false;

  /** @internal Use `Lane.create` or `Lane.adopt`. */
  constructor(segment: Segment, fd: number, client: boolean) {
    this.#segment = segment;
    this.#fd = fd;
    this.#words = new Int32Array(segment.buffer, 0, HEADER_BYTES / 4);
    const request: Direction = {
      seq: Word.REQUEST_SEQ,
      length: Word.REQUEST_LENGTH,
      asleep: Word.CLIENT_ASLEEP,
      slot: new Uint8Array(segment.buffer, HEADER_BYTES, LANE_BYTES),
    };
    const reply: Direction = {
      seq: Word.REPLY_SEQ,
      length: Word.REPLY_LENGTH,
      asleep: Word.SERVER_ASLEEP,
      slot: new Uint8Array(segment.buffer, HEADER_BYTES + LANE_BYTES, LANE_BYTES),
    };
    [this.#out, this.#in] = client ? [request, reply] : [reply, request];
    ownMapping(segment);
    dropped.register(this, { segment, fd }, this);
  }

  /** A new lane, for the client side of a connection. */
  static create(): Lane {
    const segment = createFixedSegment(SEGMENT_BYTES, "multiproc-lane");
    return new Lane(segment, ownFd(segment.fd), true);
  }

  /** The server's side of the lane in descriptor `fd` (sent by the client; closed here). */
  static adopt(fd: number): Lane {
    try {
      return new Lane(mapFixedSegment(fd, SEGMENT_BYTES), -1, false);
    } finally {
      closeFd(fd);
    }
  }

  /**
   * Sends `carried` to the peer: in this side's slot when it fits (no
   * descriptors, at most LANE_BYTES), ringing the doorbell if the peer
   * sleeps; otherwise on the socket, the slot saying so first.
   */
  deliver(conn: Connection, carried: Carried): void {
    const out = this.#out;
    const n = carried.bytes.byteLength;
    const inLane = n <= LANE_BYTES && carried.fds.length === 0;
    if (inLane) out.slot.set(carried.bytes);
    Atomics.store(this.#words, out.length, inLane ? n : ON_SOCKET);
    Atomics.add(this.#words, out.seq, 1);
    this.#delivered = n;
    if (!inLane) sendCarried(conn, carried);
    else if (Atomics.load(this.#words, this.#in.asleep) !== 0) sendCarried(conn, DOORBELL);
  }

  /** Whether the peer posted a message this side has not taken. */
  get arrived(): boolean {
    return Atomics.load(this.#words, this.#in.seq) !== this.#seen;
  }

  /**
   * Blocks until the peer's next message and returns it decoded.
   * @throws EOFError when the peer closed its end (or exited) first
   * @throws ProcessError when the peer broke the lane's protocol
   */
  receiveSync(conn: Connection): unknown {
    if (!this.#spin()) {
      this.#sleep(true);
      try {
        while (!this.arrived) {
          // No re-check on a timer: the doorbell (or the end of the stream) is what wakes it.
          conn.poll(Number.POSITIVE_INFINITY);
          if (!this.arrived) this.#doorbell(conn.recvSync());
        }
      } finally {
        this.#sleep(false);
      }
    }
    const bytes = this.#take();
    if (bytes !== undefined) return decodeCarrying(bytes, []);
    for (;;) {
      const m = conn.recvSync();
      if (m !== null) return m;
    }
  }

  /**
   * The peer's next message, decoded: spins as `receiveSync` does (blocking
   * the event loop that long), then waits without blocking it.
   * @throws as `receiveSync`
   */
  async receive(conn: Connection): Promise<unknown> {
    if (!this.#spin()) {
      this.#sleep(true);
      try {
        const fds = [conn.fileno()];
        while (!this.arrived) {
          await waitUntil(() => this.arrived || conn.poll(0), Number.POSITIVE_INFINITY, fds);
          if (!this.arrived) this.#doorbell(await conn.recv());
        }
      } finally {
        this.#sleep(false);
      }
    }
    const bytes = this.#take();
    if (bytes !== undefined) return decodeCarrying(bytes, []);
    for (;;) {
      const m = await conn.recv();
      if (m !== null) return m;
    }
  }

  /** Frees the lane (this side's mapping and descriptor). Closing twice is allowed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    dropped.unregister(this);
    unmapOwned(this.#segment);
    if (this.#fd >= 0) closeOwnedFd(this.#fd);
    this.#fd = -1;
  }

  /**
   * Spins until the peer posts, SPIN_TRIES yields and at least as long as
   * the answer to what this side last delivered may take; false when it did
   * not post by then, or the CPU is contended (see `spinStep`).
   */
  #spin(): boolean {
    const words = this.#words;
    const seq = this.#in.seq;
    const until = performance.now() + receiveSpinMs(this.#delivered);
    this.#delivered = 0;
    for (let tries = 0; ; tries++) {
      for (let i = 0; i < LOADS_PER_YIELD; i++) if (Atomics.load(words, seq) !== this.#seen) return true;
      if (tries >= SPIN_TRIES && performance.now() >= until) return false;
      if (!spinStep()) return this.arrived;
    }
  }

  #sleep(asleep: boolean): void {
    Atomics.store(this.#words, this.#out.asleep, asleep ? 1 : 0);
  }

  /** A message that came on the socket while no slot announced one: only a doorbell may. */
  #doorbell(m: unknown): void {
    if (m !== null) throw new ProcessError("Manager lane: a message came on the socket that its slot did not announce");
  }

  /** The bytes of the peer's posted message, copied out of its slot; undefined when it follows on the socket. */
  #take(): Uint8Array | undefined {
    const words = this.#words;
    this.#seen = Atomics.load(words, this.#in.seq);
    const n = Atomics.load(words, this.#in.length);
    if (n === ON_SOCKET) return undefined;
    if (!(n >= 0 && n <= LANE_BYTES)) {
      throw new ProcessError(`Manager lane: message length ${n} is outside 0..${LANE_BYTES}, and not ${ON_SOCKET}`);
    }
    return this.#in.slot.slice(0, n);
  }

  static {
    registerReducer(Lane, {
      tag: "ManagerLane",
      reduce: (lane: Lane): { fd: FdRef } => {
        if (lane.#fd < 0) throw new TypeError("Only the client's side of a manager lane can be sent");
        return { fd: shareFd(lane.#fd) };
      },
      rebuild: (state: unknown): Lane => {
        const fd = (state as { fd?: unknown } | null)?.fd;
        if (typeof fd !== "object" || fd === null) throw new TypeError("A manager lane's state has no descriptor");
        return Lane.adopt(takeFd(fd as FdRef));
      },
    });
  }
}
