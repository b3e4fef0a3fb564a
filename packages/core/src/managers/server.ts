/**
 * The manager server (Python: `managers.Server`): holds objects by id, each
 * with the set of clients that reference it, and serves requests
 * (`request.ts`). It is async: one loop accepts connections and one loop per
 * connection reads a request, runs it (awaiting a method that returns a
 * Promise) and sends the reply before reading the next, so each connection's
 * calls run in order and connections are served concurrently. A client's
 * references die with its last connection.
 */
import { type Connection, readAhead, sendCarried } from "../channel/connection.ts";
import { type Carried, encodeCarrying } from "../channel/fd-transfer.ts";
import { type Address, type Arrival, Listener } from "../channel/listener.ts";
import { logDroppedPeer } from "../channel/peer-log.ts";
import type { Exportable } from "../codec/exports.ts";
import { EOFError, PicklingError } from "../errors.ts";
import type { Lane } from "./lane.ts";
import { setLocalServer } from "./proxy.ts";
import { parseRequest, type Reply, type Request } from "./request.ts";

/** One registered type, as the server needs it (Python: an entry of `BaseManager._registry`). */
export interface RegistryEntry {
  readonly typeid: string;
  /** Makes the object: an exported class (called with `new`) or function; null on a side that only connects. */
  readonly callable: Exportable | null;
  /** Methods a proxy may call; null: every public method of the object. */
  readonly exposed: readonly string[] | null;
  /** Methods whose result is held on the server and returned as a proxy of that typeid. */
  readonly methodToTypeid: Readonly<Record<string, string>> | null;
  /** The library's proxy kind for results of this typeid (see proxy.ts). */
  readonly proxyKind: string | null;
}

/** A request that failed `parseRequest`, shortly, for the log: its kind or shape, never the whole value. */
function describeRequest(m: unknown): string {
  if (Array.isArray(m))
    return `[${typeof m[0] === "string" ? JSON.stringify(m[0].slice(0, 40)) : typeof m[0]}, ...] of ${m.length} items`;
  return `of type ${m === null ? "null" : typeof m}`;
}

/** A reply's bytes; a reply holding what cannot be sent becomes that PicklingError (Python: `dispatch`'s `#ERROR`). */
function encodeReply(reply: Reply): Carried {
  try {
    return encodeCarrying(reply, "obj");
  } catch (error) {
    if (!(error instanceof PicklingError)) throw error;
    return encodeCarrying(["#ERROR", error] satisfies Reply, "obj");
  }
}

/** Options of a Server. */
export interface ServerOptions {
  address?: Address | undefined;
  authkey?: string | Uint8Array | undefined;
}

/** A method the server calls on an object it frees (a Pool terminates its workers). */
export const FREED: unique symbol = Symbol("multiproc.managerFreed");

function freed(obj: unknown): void {
  const f = (obj as { [FREED]?: () => void } | null)?.[FREED];
  if (typeof f === "function") f.call(obj);
}

/** An error named as Python's (AttributeError), rebuilt by name at the caller. */
class AttributeError extends Error {
  override name = "AttributeError";
}

interface Held {
  readonly obj: unknown;
  readonly typeid: string;
  readonly exposed: readonly string[];
  readonly holders: Set<string>;
  serverHolds: number;
}

const NOT_EXPOSED = new Set(["constructor", "toString", "toLocaleString", "valueOf"]);

/** The public methods of `obj` (Python: `public_methods`); `xSync` is left out when `x` is there. */
export function publicMethods(obj: unknown): string[] {
  const names = new Set<string>();
  for (let o: unknown = obj; o !== null && o !== undefined && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key.startsWith("_") || key.startsWith("#") || NOT_EXPOSED.has(key)) continue;
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d !== undefined && typeof d.value === "function") names.add(key);
    }
  }
  return [...names].filter((n) => !(n.endsWith("Sync") && names.has(n.slice(0, -4))));
}

function isClass(fn: Exportable): fn is abstract new (...a: never[]) => unknown {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/**
 * Serves the registered types on a Listener (Python: `managers.Server`).
 * Made by `BaseManager.getServer()`.
 */
export class Server {
  readonly #listener: Listener;
  readonly #registry: Map<string, RegistryEntry>;
  readonly #objects = new Map<string, Held>();
  readonly #clients = new Map<string, number>();
  readonly #conns = new Set<Connection>();
  #nextId = 0;
  #closed = false;
  #serving: Promise<void> | undefined;

  constructor(registry: readonly RegistryEntry[], opts: ServerOptions = {}) {
    this.#registry = new Map(registry.map((e) => [e.typeid, e]));
    this.#listener = new Listener({ address: opts.address, authkey: opts.authkey });
  }

  /** Where clients connect (for `[host, 0]`, the port chosen). */
  get address(): Address {
    return this.#listener.address;
  }

  /**
   * Serves clients until `close()` or a client's shutdown request (Python:
   * `serve_forever`). Resolves when the server is closed.
   */
  serveForever(): Promise<void> {
    this.#serving ??= this.#acceptLoop();
    return this.#serving;
  }

  async #acceptLoop(): Promise<void> {
    setLocalServer({
      address: this.address,
      hold: (id) => {
        const h = this.#objects.get(id);
        if (h !== undefined) h.serverHolds++;
      },
      release: (id) => {
        const h = this.#objects.get(id);
        if (h === undefined) return;
        h.serverHolds--;
        this.#freeIfUnheld(id, h);
      },
      call: (id, method, args) => this.#call(id, method, args),
      objectOf: (id) => this.#heldOrThrow(id).obj,
    });
    while (!this.#closed) {
      let arrival: Arrival;
      try {
        arrival = await this.#listener.acceptArrival();
      } catch {
        if (this.#closed) break;
        continue;
      }
      // Each arrival's handshake runs on its own (Python: a thread per
      // connection), so a peer slow to answer holds up no other client.
      void this.#serve(arrival);
    }
  }

  /** Stops serving: closes the listener and every connection (Python: `Server.stop`). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const c of this.#conns) c.close();
    this.#conns.clear();
    for (const h of this.#objects.values()) freed(h.obj);
    this.#objects.clear();
    setLocalServer(undefined);
  }

  async #serve(arrival: Arrival): Promise<void> {
    const conn = arrival.conn;
    this.#conns.add(conn);
    let client: string | undefined;
    /** The connection's lane, from its hello: every later request comes and every reply goes through it. */
    let lane: Lane | undefined;
    try {
      if ((await arrival.admit()) === undefined) return; // failed the auth key handshake: closed and logged
      readAhead(conn); // past the handshake; only this server reads it (#20)
      for (;;) {
        let msg: unknown;
        try {
          msg = lane === undefined ? await conn.recv() : await lane.receive(conn);
        } catch (error) {
          // A clean end is the client leaving; a broken or cut frame is logged
          // by the connection; a payload that does not decode is logged here.
          if (!(error instanceof EOFError) && !this.#closed) this.#drop(arrival, `cannot decode a request: ${error}`);
          return;
        }
        const req = parseRequest(msg);
        if (req === undefined) {
          this.#drop(arrival, `malformed request ${describeRequest(msg)}`);
          return;
        }
        if (req[0] === "hello") {
          if (client === undefined) {
            client = req[1];
            this.#clients.set(client, (this.#clients.get(client) ?? 0) + 1);
          }
          conn.send(["#RETURN", null] satisfies Reply);
          if (req.length === 3) {
            lane?.close(); // a second hello with a lane replaces the first
            lane = req[2];
          }
          continue;
        }
        if (client === undefined) {
          this.#drop(arrival, `request "${req[0]}" before "hello"`);
          return;
        }
        const reply = await this.#handle(req, client);
        try {
          const carried = encodeReply(reply);
          if (lane === undefined) sendCarried(conn, carried);
          else lane.deliver(conn, carried);
        } catch {
          return; // the client left (or the reply cannot be encoded at all): this connection ends
        }
        if (req[0] === "shutdown") {
          this.close();
          return;
        }
      }
    } finally {
      conn.close();
      lane?.close();
      this.#conns.delete(conn);
      if (client !== undefined) this.#clientGone(client);
    }
  }

  #drop(arrival: Arrival, reason: string): void {
    logDroppedPeer(String(this.#listener), arrival.peer, reason);
  }

  #clientGone(client: string): void {
    const n = (this.#clients.get(client) ?? 1) - 1;
    if (n > 0) {
      this.#clients.set(client, n);
      return;
    }
    this.#clients.delete(client);
    for (const [id, h] of this.#objects) {
      if (h.holders.delete(client)) this.#freeIfUnheld(id, h);
    }
  }

  #freeIfUnheld(id: string, h: Held): void {
    if (h.holders.size === 0 && h.serverHolds <= 0) {
      this.#objects.delete(id);
      freed(h.obj);
    }
  }

  async #handle(req: Request, client: string): Promise<Reply> {
    try {
      switch (req[0]) {
        case "create": {
          const [id, h] = await this.#create(req[1], req[2]);
          h.holders.add(client);
          return ["#RETURN", [id, h.exposed]];
        }
        case "call": {
          const [, id, method, args] = req;
          const result = await this.#call(id, method, args);
          const typeid = this.#heldOrThrow(id).typeid;
          const resultType = this.#registry.get(typeid)?.methodToTypeid?.[method];
          // undefined as a missing item: it keeps the reply JSON, which encodes in a tenth of the time (#20).
          if (resultType === undefined) return result === undefined ? ["#RETURN"] : ["#RETURN", result];
          const [rid, rh] = this.#hold(resultType, result);
          rh.holders.add(client);
          const kind = this.#registry.get(resultType)?.proxyKind ?? undefined;
          return [
            "#PROXY",
            kind === undefined ? [resultType, rid, [...rh.exposed]] : [resultType, rid, [...rh.exposed], kind],
          ];
        }
        case "incref": {
          const h = this.#heldOrThrow(req[1]);
          h.holders.add(client);
          return ["#RETURN", h.exposed];
        }
        case "decref": {
          const h = this.#objects.get(req[1]);
          if (h?.holders.delete(client)) this.#freeIfUnheld(req[1], h);
          return ["#RETURN", null];
        }
        case "numberOfObjects":
          return ["#RETURN", this.#objects.size];
        case "shutdown":
          return ["#RETURN", null];
        default:
          throw new TypeError(`Unknown request ${String(req[0])}`);
      }
    } catch (error) {
      return ["#ERROR", error];
    }
  }

  #heldOrThrow(id: string): Held {
    const h = this.#objects.get(id);
    if (h === undefined) throw new ReferenceError(`The manager holds no object with id ${id}: it was freed`);
    return h;
  }

  async #create(typeid: string, args: unknown[]): Promise<[string, Held]> {
    const entry = this.#registry.get(typeid);
    if (entry === undefined) throw new TypeError(`The manager has no type registered as "${typeid}"`);
    const fn = entry.callable;
    if (fn === null) throw new TypeError(`The manager's "${typeid}" has no callable on the serving side`);
    const obj = isClass(fn)
      ? Reflect.construct(fn as unknown as new (...a: unknown[]) => unknown, args)
      : await (fn as unknown as (...a: unknown[]) => unknown)(...args);
    return this.#hold(typeid, obj);
  }

  #hold(typeid: string, obj: unknown): [string, Held] {
    const exposed = this.#registry.get(typeid)?.exposed ?? publicMethods(obj);
    const id = (++this.#nextId).toString(16);
    const h: Held = { obj, typeid, exposed, holders: new Set(), serverHolds: 0 };
    this.#objects.set(id, h);
    return [id, h];
  }

  async #call(id: string, method: string, args: unknown[]): Promise<unknown> {
    const h = this.#heldOrThrow(id);
    if (!h.exposed.includes(method)) {
      throw new AttributeError(
        `Method "${method}" of a ${h.typeid} is not exposed: exposed are ${h.exposed.join(", ")}`,
      );
    }
    const obj = h.obj as Record<string, (...a: unknown[]) => unknown>;
    const fn = obj[method];
    if (typeof fn !== "function") throw new AttributeError(`A ${h.typeid} has no method "${method}"`);
    return await fn.apply(obj, args);
  }
}
