/**
 * A process's connections to one manager server (Python: the per-thread
 * connection of `BaseProxy`): a pool of idle connections, each call taking
 * one for its request and reply, so that async calls made together neither
 * wait for each other nor mix their replies (a pending `q.get()` does not
 * hold up `q.put()`), and each sequence of awaited calls stays in order.
 * Every connection names this process's client id first: the server drops
 * what this client referenced when its last connection closes.
 */
import { randomBytes } from "node:crypto";
import { type Connection, readAhead } from "../channel/connection.ts";
import { encodeCarrying } from "../channel/fd-transfer.ts";
import { type Address, Client, ClientSync } from "../channel/listener.ts";
import { AuthenticationError, EOFError, PicklingError, ProcessError } from "../errors.ts";
import { Lane } from "./lane.ts";
import type { Reply, Request } from "./request.ts";

/** Longest wait for a connection to the server (ms). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** How a reply that names a proxy is turned into one (set by proxy.ts, which imports this file). */
export type ProxyFromReply = (link: Link, typeid: string, id: string, exposed: string[], kind?: string) => unknown;

let makeProxy: ProxyFromReply = () => {
  throw new Error("proxy.ts is not loaded");
};

/** @internal */
export function setProxyMaker(f: ProxyFromReply): void {
  makeProxy = f;
}

/** Whether `e` says the connection to the server is lost. */
function lost(e: unknown): boolean {
  return e instanceof EOFError || e instanceof ProcessError || (e instanceof Error && e.name === "BackendError");
}

function keyOf(address: Address): string {
  return typeof address === "string" ? address : `${address[0]}:${address[1]}`;
}

function describe(address: Address): string {
  return typeof address === "string" ? JSON.stringify(address) : `${address[0]}:${address[1]}`;
}

/**
 * One connection to the server, with its lane (lane.ts) when the server is
 * on this host (a unix socket address): calls then go through shared memory.
 */
interface Line {
  readonly conn: Connection;
  readonly lane: Lane | undefined;
}

function closeLine(line: Line): void {
  line.conn.close();
  line.lane?.close();
}

/** Where a request keeps the caller's arguments: `["call", id, method, args]`, `["create", typeid, args]`. */
const ARGS_AT: Partial<Record<Request[0], number>> = { call: 3, create: 2 };

/**
 * A PicklingError from sending `req`, its path said as the caller wrote the
 * call (`args[1].cb`), not as the request is laid out (`obj[3][1].cb`).
 */
function argumentError(e: unknown, req: Request): unknown {
  const at = ARGS_AT[req[0]];
  const prefix = `obj[${at}]`;
  if (!(e instanceof PicklingError) || at === undefined || !e.path.startsWith(prefix)) return e;
  const path = `args${e.path.slice(prefix.length)}`;
  return new PicklingError(e.message.replaceAll(e.path, path), path, { cause: e.cause });
}

/** The connections of this process to the server at one address. */
export class Link {
  readonly address: Address;
  readonly authkey: Uint8Array | undefined;
  readonly #idle: Line[] = [];
  #closed: string | undefined;
  readonly #clientId = `${process.pid}-${randomBytes(6).toString("hex")}`;
  /** Live proxies of this process per object id: the server counts this client once, this counts the proxies. */
  readonly #refs = new Map<string, number>();

  constructor(address: Address, authkey: Uint8Array | undefined) {
    this.address = address;
    this.authkey = authkey;
  }

  /** Whether a live proxy of this process already holds a reference on object `id`. */
  hasRef(id: string): boolean {
    return (this.#refs.get(id) ?? 0) > 0;
  }

  /** Counts one more live proxy of object `id` (its reference is taken on the server). */
  addRef(id: string): void {
    this.#refs.set(id, (this.#refs.get(id) ?? 0) + 1);
  }

  /**
   * Counts one proxy of `id` less; the last one sends `decref` (Python:
   * `BaseProxy._decref`), without waiting and without failing: a server
   * that is gone has freed the object already.
   */
  dropRef(id: string): void {
    const n = (this.#refs.get(id) ?? 0) - 1;
    if (n > 0) {
      this.#refs.set(id, n);
      return;
    }
    this.#refs.delete(id);
    if (this.#closed === undefined) this.request(["decref", id]).catch(() => {});
  }

  /** Marks the server as gone (shut down by this process): every later call throws ProcessError. */
  markClosed(why: string): void {
    this.#closed = why;
    for (const line of this.#idle.splice(0)) closeLine(line);
  }

  #check(): void {
    if (this.#closed !== undefined) {
      throw new ProcessError(`Cannot call the manager at ${describe(this.address)}: ${this.#closed}`);
    }
  }

  #gone(cause: unknown): Error {
    if (cause instanceof AuthenticationError) return cause;
    return new ProcessError(
      `The manager server at ${describe(this.address)} is gone (shut down or dead): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }

  async #take(): Promise<Line> {
    this.#check();
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    let conn: Connection;
    try {
      // Read-ahead (#20): a link's connections are read by this process only and never sent on.
      conn = readAhead(await Client(this.address, { authkey: this.authkey, timeout: CONNECT_TIMEOUT_MS }));
    } catch (e) {
      throw this.#gone(e);
    }
    const line = this.#lineOf(conn);
    try {
      this.#hello(line);
      if (!(await conn.pollAsync(CONNECT_TIMEOUT_MS))) throw new ProcessError("no answer to hello");
      await conn.recv();
    } catch (e) {
      closeLine(line);
      throw this.#gone(e);
    }
    return line;
  }

  #takeSync(): Line {
    this.#check();
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    let conn: Connection;
    try {
      conn = readAhead(ClientSync(this.address, { authkey: this.authkey, timeout: CONNECT_TIMEOUT_MS }));
    } catch (e) {
      throw this.#gone(e);
    }
    const line = this.#lineOf(conn);
    try {
      this.#hello(line);
      if (!conn.poll(CONNECT_TIMEOUT_MS)) throw new ProcessError("no answer to hello");
      conn.recvSync();
    } catch (e) {
      closeLine(line);
      throw this.#gone(e);
    }
    return line;
  }

  /** A new connection's line: with a lane when the server is on this host. */
  #lineOf(conn: Connection): Line {
    try {
      return { conn, lane: typeof this.address === "string" ? Lane.create() : undefined };
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** Names this client on a new connection, and hands the server its lane (the reply comes on the socket). */
  #hello({ conn, lane }: Line): void {
    conn.send((lane === undefined ? ["hello", this.#clientId] : ["hello", this.#clientId, lane]) satisfies Request);
  }

  #give(line: Line): void {
    if (this.#closed === undefined) this.#idle.push(line);
    else closeLine(line);
  }

  /** Sends `req` on `line`: through its lane when it has one. */
  #send({ conn, lane }: Line, req: Request): void {
    if (lane === undefined) conn.send(req);
    else lane.deliver(conn, encodeCarrying(req, "obj"));
  }

  #unwrap(reply: unknown): unknown {
    if (!Array.isArray(reply)) throw new ProcessError(`Malformed reply from the manager: ${String(reply)}`);
    const r = reply as unknown as Reply;
    if (r[0] === "#RETURN") return r[1];
    if (r[0] === "#ERROR") throw r[1];
    if (r[0] === "#PROXY") {
      const [typeid, id, exposed, kind] = r[1];
      return makeProxy(this, typeid, id, exposed, kind);
    }
    throw new ProcessError(`Malformed reply from the manager: ${String(r[0])}`);
  }

  /**
   * Opens a connection now (or finds an idle one), so that a wrong key or
   * nobody listening shows at `connect()`.
   * @throws AuthenticationError when the keys differ; ProcessError when nobody serves there
   */
  async check(): Promise<void> {
    this.#give(await this.#take());
  }

  /** Sends `req` and waits for its reply without blocking the event loop. */
  request(req: Request): Promise<unknown> {
    // An idle connection is taken at once: an await there costs every call promise jobs (#20).
    const idle = this.#closed === undefined ? this.#idle.pop() : undefined;
    if (idle !== undefined) return this.#exchange(idle, req);
    return this.#take().then((line) => this.#exchange(line, req));
  }

  async #exchange(line: Line, req: Request): Promise<unknown> {
    let reply: unknown;
    try {
      this.#send(line, req);
      reply = line.lane === undefined ? await line.conn.recv() : await line.lane.receive(line.conn);
    } catch (e) {
      throw this.#failed(line, req, e);
    }
    this.#give(line);
    return this.#unwrap(reply);
  }

  /** Sends `req` and blocks until its reply. */
  requestSync(req: Request): unknown {
    const line = this.#takeSync();
    let reply: unknown;
    try {
      this.#send(line, req);
      reply = line.lane === undefined ? line.conn.recvSync() : line.lane.receiveSync(line.conn);
    } catch (e) {
      throw this.#failed(line, req, e);
    }
    this.#give(line);
    return this.#unwrap(reply);
  }

  /** The error to throw for a call on `line` that failed with `e`; a lost line is closed. */
  #failed(line: Line, req: Request, e: unknown): unknown {
    if (lost(e)) {
      closeLine(line);
      return this.#gone(e);
    }
    this.#give(line); // an argument that cannot be sent (PicklingError): the connection stays usable
    return argumentError(e, req);
  }
}

/** This process's links, by address; a forked child starts with none (the parent's sockets are not its own). */
let links = new Map<string, Link>();
let linksPid = process.pid;

/** The link of this process to the server at `address`. */
export function linkTo(address: Address, authkey: Uint8Array | undefined): Link {
  if (linksPid !== process.pid) {
    links = new Map();
    linksPid = process.pid;
  }
  const key = keyOf(address);
  let link = links.get(key);
  if (link === undefined) {
    link = new Link(address, authkey);
    links.set(key, link);
  }
  return link;
}

/** This process's link to `address` when one is open (no new one is made). */
export function openLinkTo(address: Address): Link | undefined {
  return linksPid === process.pid ? links.get(keyOf(address)) : undefined;
}

/** Forgets the link to `address` (after a shutdown, a new server may listen there). */
export function dropLink(address: Address, why: string): void {
  const key = keyOf(address);
  links.get(key)?.markClosed(why);
  links.delete(key);
}
