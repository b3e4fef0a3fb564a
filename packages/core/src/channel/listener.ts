/**
 * Connections between processes that did not start each other (Python:
 * `multiprocessing.connection.Listener` and `Client`): a listening unix or
 * TCP socket whose accepted connections, like a Client's, are `Connection`s
 * carrying the same values as a Pipe's (over TCP, nothing that names this
 * machine's descriptors or shared memory). With an auth key both sides prove
 * they know it before anything is decoded (`auth.ts`).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackendError, TimeoutError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { Errno } from "../native/libc.ts";
import { waitReady } from "../native/poll.ts";
import {
  acceptOne,
  connectResult,
  connectTo,
  listenOn,
  localAddress,
  resolveHost,
  type SocketAddress,
} from "../native/stream-socket.ts";
import { checkTimeout } from "../timeout.ts";
import { deadlineOf, timeLeft } from "../wait/deadline.ts";
import { waitUntil } from "../wait/poll.ts";
import { spinFor } from "../wait/spin.ts";
import {
  authenticateClient,
  authenticateClientSync,
  authenticateListener,
  authenticateListenerSync,
  authkeyBytes,
  HANDSHAKE_TIMEOUT_MS,
} from "./auth.ts";
import { Connection } from "./connection.ts";
import { logDroppedPeer, notePeer } from "./peer-log.ts";
import { closeOwnedFd, ownFd } from "./realm-fds.ts";

/** Where a Listener listens: a unix socket path ("\0name": Linux's abstract namespace) or a TCP `[host, port]`. */
export type Address = string | [host: string, port: number];

/** Options of `new Listener()`. */
export interface ListenerOptions {
  /** Default: a fresh unix socket path in the temporary folder. `[host, 0]` picks a free TCP port. */
  address?: Address;
  /** Connections the kernel queues before `accept` (default 16). */
  backlog?: number;
  /** When given, every client must prove it knows this key, and this side proves it too. */
  authkey?: string | Uint8Array;
}

/** Options of `Client()`. */
export interface ClientOptions {
  /** The listener's key: both sides prove they know it before any message is read. */
  authkey?: string | Uint8Array;
  /** Longest wait for the connection to be made and, with an auth key, the handshake done (ms; default 20 000). */
  timeout?: number;
}

const CONNECT_TIMEOUT_MS = 20_000;

/** `address` checked and turned into a socket address (the host resolved). */
function socketAddressOf(address: unknown, what: string): SocketAddress {
  if (typeof address === "string") {
    if (address.length === 0) throw new RangeError(`${what} address must not be empty`);
    return { unix: address };
  }
  if (
    Array.isArray(address) &&
    address.length === 2 &&
    typeof address[0] === "string" &&
    Number.isInteger(address[1]) &&
    address[1] >= 0 &&
    address[1] <= 65535
  ) {
    const host = address[0] === "" ? "0.0.0.0" : address[0];
    return { host: resolveHost(host)[0]!, port: address[1] };
  }
  throw new TypeError(
    `${what} address must be a unix socket path or [host, port] with a port from 0 to 65535, got ${JSON.stringify(address)}`,
  );
}

function addressOf(a: SocketAddress): Address {
  return "unix" in a ? a.unix : [a.host, a.port];
}

function describeAddress(a: SocketAddress): string {
  return "unix" in a ? JSON.stringify(a.unix) : `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * A socket that accepts connections from other programs (Python:
 * `multiprocessing.connection.Listener`).
 *
 * @example
 * using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "secret" });
 * const conn = await listener.accept();
 * conn.send(await conn.recv());
 */
export class Listener {
  #fd: number;
  readonly #address: SocketAddress;
  readonly #authkey: Uint8Array | undefined;
  /** A socket file this listener made, removed at close. */
  readonly #path: string | undefined;
  #lastAccepted: Address | null = null;

  constructor(opts: ListenerOptions = {}) {
    const backlog = opts.backlog ?? 16;
    if (!Number.isInteger(backlog) || backlog < 1) {
      throw new RangeError(`Listener backlog must be an integer >= 1, got ${String(opts.backlog)}`);
    }
    this.#authkey = opts.authkey === undefined ? undefined : authkeyBytes(opts.authkey, "Listener");
    const wanted =
      opts.address === undefined
        ? { unix: join(tmpdir(), `multiproc-listener-${process.pid}-${randomBytes(6).toString("hex")}`) }
        : socketAddressOf(opts.address, "Listener");
    try {
      this.#fd = ownFd(listenOn(wanted, backlog));
    } catch (err) {
      if (err instanceof BackendError && err.errno === Errno.EADDRINUSE) {
        throw Object.assign(
          new BackendError(`Cannot listen on ${describeAddress(wanted)}: the address is in use`, {
            errno: err.errno,
          }),
          { code: "EADDRINUSE" },
        );
      }
      throw err;
    }
    this.#address = localAddress(this.#fd);
    this.#path = "unix" in wanted && !wanted.unix.startsWith("\0") ? wanted.unix : undefined;
  }

  /** The address clients connect to (for `[host, 0]`, the port chosen). */
  get address(): Address {
    return addressOf(this.#address);
  }

  /** The address of the last accepted client (`""` for an unnamed unix socket), or null. */
  get lastAccepted(): Address | null {
    return this.#lastAccepted;
  }

  #open(): number {
    if (this.#fd < 0) throw new BackendError("Cannot accept: the listener is closed");
    return this.#fd;
  }

  /**
   * Waits for a client and returns its connection; a client that fails the
   * auth key handshake (or sends anything else instead) is disconnected, with
   * one line on stderr naming it and why (peer-log.ts), and the wait goes on.
   * @param timeout longest wait in ms (default: forever)
   * @throws TimeoutError when no client came in time
   */
  acceptSync(timeout?: number): Connection {
    const deadline = deadlineOf(checkTimeout(timeout, "Listener.accept"));
    for (;;) {
      // A client that is on its way is taken without a sleep (see `spinFor`).
      const got = spinFor(() => acceptOne(this.#open()), deadline);
      if (got === undefined) {
        const left = timeLeft(deadline);
        if (left === 0 || (!waitReady(this.#fd, "read", left) && timeLeft(deadline) === 0)) {
          throw new TimeoutError(`No client connected to ${describeAddress(this.#address)} within ${timeout} ms`);
        }
        continue;
      }
      const conn = this.#connection(got.fd);
      if (this.#authkey !== undefined) {
        try {
          authenticateClientSync(conn, this.#authkey, handshakeTime(deadline));
        } catch (err) {
          this.#drop(conn, got.peer, err);
          continue;
        }
      }
      return this.#admitted(conn, got.peer);
    }
  }

  /** Async form of `acceptSync`: waits without blocking the event loop. @throws TimeoutError */
  async accept(timeout?: number): Promise<Connection> {
    const deadline = deadlineOf(checkTimeout(timeout, "Listener.accept"));
    for (;;) {
      const { admit } = await this.#arrival(deadline, timeout);
      const admitted = await admit(handshakeTime(deadline));
      if (admitted !== undefined) return admitted;
    }
  }

  /**
   * @internal Waits for a client and returns it before its handshake: the
   * manager server admits each arrival on its own, so a peer that is slow to
   * answer the challenge holds up no other client. `admit` resolves to the
   * connection, or to undefined when the peer failed (it is then closed and
   * logged).
   */
  acceptArrival(): Promise<Arrival> {
    return this.#arrival(Number.POSITIVE_INFINITY, undefined);
  }

  async #arrival(deadline: number, timeout: number | undefined): Promise<Arrival> {
    let got: ReturnType<typeof acceptOne>;
    const came = await waitUntil(
      () => {
        got = acceptOne(this.#open());
        return got !== undefined;
      },
      deadline,
      [this.#open()],
    );
    if (!came || got === undefined) {
      throw new TimeoutError(`No client connected to ${describeAddress(this.#address)} within ${timeout} ms`);
    }
    const { fd, peer } = got;
    const conn = this.#connection(fd);
    const admit = async (time = HANDSHAKE_TIMEOUT_MS): Promise<Connection | undefined> => {
      if (this.#authkey !== undefined) {
        try {
          await authenticateClient(conn, this.#authkey, time);
        } catch (err) {
          this.#drop(conn, peer, err);
          return undefined;
        }
      }
      return this.#admitted(conn, peer);
    };
    return { conn, peer: describeAddress(peer), admit };
  }

  /** A connection past its handshake: noted for logging (a broken stream names its peer), and the last accepted. */
  #admitted(conn: Connection, peer: SocketAddress): Connection {
    notePeer(conn, this.toString(), describePeer(peer, conn));
    this.#lastAccepted = addressOf(peer);
    return conn;
  }

  /**
   * Closes a peer that failed the handshake and logs why. Any error of the
   * handshake is the peer's (it closed, reset or sent nonsense): it must not
   * end the listener's accept.
   */
  #drop(conn: Connection, peer: SocketAddress, err: unknown): void {
    const peerName = describePeer(peer, conn);
    conn.close();
    logDroppedPeer(this.toString(), peerName, err instanceof Error ? err.message : String(err));
  }

  #connection(fd: number): Connection {
    return new Connection(fd, true, true, undefined, !("unix" in this.#address));
  }

  /** Stops listening and removes the socket file it made (Python: `close`). Closing twice is allowed. */
  close(): void {
    if (this.#fd < 0) return;
    closeOwnedFd(this.#fd);
    this.#fd = -1;
    if (this.#path !== undefined) rmSync(this.#path, { force: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `<Listener ${describeAddress(this.#address)}${this.#fd < 0 ? " closed" : ""}>`;
  }
}

/** A connection accepted, its handshake not yet done (see `Listener.acceptArrival`). */
export interface Arrival {
  /** The connection; read nothing from it before `admit` resolves to it. */
  readonly conn: Connection;
  /** The peer, for messages: `127.0.0.1:41234`, or `unix peer` for a unix socket. */
  readonly peer: string;
  /** Runs the handshake (at most `timeout` ms); the connection when it passed, else undefined (closed and logged). */
  admit(timeout?: number): Promise<Connection | undefined>;
}

/** A peer as log lines name it: its TCP address, or its descriptor on a unix socket (whose clients have no name). */
function describePeer(a: SocketAddress, conn: Connection): string {
  if (!("unix" in a)) return describeAddress(a);
  return a.unix === "" ? `unix peer${conn.closed ? "" : ` (fd ${conn.fileno()})`}` : JSON.stringify(a.unix);
}

/** Time for one client's handshake: the default, or what is left of the caller's timeout. */
function handshakeTime(deadline: number): number {
  return Math.min(HANDSHAKE_TIMEOUT_MS, timeLeft(deadline) ?? HANDSHAKE_TIMEOUT_MS);
}

/** Turns a failed connect into an error naming the address and what happened. */
function connectFailed(address: SocketAddress, e: number): never {
  const code = e === Errno.ENOENT ? "ENOENT" : e === Errno.ECONNREFUSED ? "ECONNREFUSED" : undefined;
  const why =
    e === Errno.ENOENT ? "no such socket file" : e === Errno.ECONNREFUSED ? "nothing listens there" : `errno ${e}`;
  throw Object.assign(new BackendError(`Cannot connect to ${describeAddress(address)}: ${why}`, { errno: e }), {
    code,
  });
}

/** Starts a connect; undefined while a unix listener's backlog is full. */
function startConnect(address: SocketAddress): number | undefined {
  try {
    return connectTo(address);
  } catch (err) {
    if (err instanceof BackendError && err.errno !== undefined) connectFailed(address, err.errno);
    throw err;
  }
}

/** The connect's outcome once the socket is writable: the Connection, or the error. */
function finishConnect(fd: number, address: SocketAddress): Connection {
  const e = connectResult(fd);
  if (e !== 0) {
    closeFd(fd);
    connectFailed(address, e);
  }
  return new Connection(fd, true, true, undefined, !("unix" in address));
}

function connectTimeout(opts: ClientOptions | undefined): number {
  return checkTimeout(opts?.timeout ?? CONNECT_TIMEOUT_MS, "Client") ?? CONNECT_TIMEOUT_MS;
}

/**
 * Connects to a `Listener` (Python: `multiprocessing.connection.Client`),
 * blocking the calling thread.
 * @throws BackendError with `code` "ENOENT" or "ECONNREFUSED" when nobody listens there
 * @throws AuthenticationError when the keys differ (or one side has none)
 * @throws TimeoutError when the connection is not made in time
 */
export function ClientSync(address: Address, opts?: ClientOptions): Connection {
  const to = socketAddressOf(address, "Client");
  const key = opts?.authkey === undefined ? undefined : authkeyBytes(opts.authkey, "Client");
  const timeout = connectTimeout(opts);
  const deadline = deadlineOf(timeout);
  let fd = startConnect(to);
  while (fd === undefined) {
    if (timeLeft(deadline) === 0)
      throw new TimeoutError(`Cannot connect to ${describeAddress(to)} within ${timeout} ms`);
    Bun.sleepSync(1);
    fd = startConnect(to);
  }
  if (!waitReady(fd, "write", timeLeft(deadline))) {
    closeFd(fd);
    throw new TimeoutError(`Cannot connect to ${describeAddress(to)} within ${timeout} ms`);
  }
  const conn = finishConnect(fd, to);
  if (key !== undefined) {
    try {
      authenticateListenerSync(conn, key, timeLeft(deadline) ?? timeout);
    } catch (err) {
      conn.close();
      throw err;
    }
  }
  return conn;
}

/** Async form of `ClientSync`: connects without blocking the event loop. */
export async function Client(address: Address, opts?: ClientOptions): Promise<Connection> {
  const to = socketAddressOf(address, "Client");
  const key = opts?.authkey === undefined ? undefined : authkeyBytes(opts.authkey, "Client");
  const timeout = connectTimeout(opts);
  const deadline = deadlineOf(timeout);
  let fd: number | undefined;
  const connected = await waitUntil(() => {
    fd ??= startConnect(to);
    return fd !== undefined && waitReady(fd, "write", 0);
  }, deadline);
  if (!connected || fd === undefined) {
    if (fd !== undefined) closeFd(fd);
    throw new TimeoutError(`Cannot connect to ${describeAddress(to)} within ${timeout} ms`);
  }
  const conn = finishConnect(fd, to);
  if (key !== undefined) {
    try {
      await authenticateListener(conn, key, timeLeft(deadline) ?? timeout);
    } catch (err) {
      conn.close();
      throw err;
    }
  }
  return conn;
}
