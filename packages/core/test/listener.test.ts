/** Listener, Client and wait in one process (Python: multiprocessing.connection); across processes in conformance/listener.ts. */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import {
  AuthenticationError,
  BackendError,
  Client,
  ClientSync,
  type Connection,
  Listener,
  Lock,
  Pipe,
  PicklingError,
  TimeoutError,
  wait,
  waitSync,
} from "../src/index.ts";
import { openFds } from "./fixtures/os-resources.ts";

/** A listener and one accepted pair of connections. */
async function pair(opts: ConstructorParameters<typeof Listener>[0] = {}, key?: string) {
  const listener = new Listener(opts);
  const [client, server] = await Promise.all([
    Client(listener.address, key === undefined ? {} : { authkey: key }),
    listener.accept(5000),
  ]);
  return { listener, client, server };
}

function closeAll(...things: { close(): void }[]): void {
  for (const t of things) t.close();
}

describe("Listener and Client", () => {
  for (const [kind, address] of [
    ["a unix socket path", undefined],
    ["a Linux abstract socket", `\0multiproc-test-${process.pid}`],
    ["TCP on 127.0.0.1", ["127.0.0.1", 0]],
    ["TCP on ::1", ["::1", 0]],
  ] as const) {
    test(`${kind}: values travel both ways; address and lastAccepted are the real ones`, async () => {
      const opts =
        address === undefined
          ? {}
          : { address: typeof address === "string" ? address : ([...address] as [string, number]) };
      const { listener, client, server } = await pair(opts);
      if (typeof listener.address === "string") {
        expect(listener.address.length).toBeGreaterThan(1);
        expect(server.toString()).toContain("duplex");
      } else {
        expect(listener.address[1]).toBeGreaterThan(0); // port 0: the one chosen
        expect((listener.lastAccepted as [string, number])[0]).toBe(listener.address[0]);
      }
      client.send({ n: 1, big: 2n, at: new Date(0), err: new RangeError("r") });
      const got = (await server.recv()) as { n: number; big: bigint; at: Date; err: Error };
      expect([got.n, got.big, got.at.getTime(), got.err.name]).toEqual([1, 2n, 0, "RangeError"]);
      server.sendBytes(new Uint8Array([1, 2, 3]));
      expect([...client.recvBytesSync()]).toEqual([1, 2, 3]);
      closeAll(client, server, listener);
    });
  }

  test("a unix listener removes its socket file at close; closing twice is allowed", () => {
    const listener = new Listener();
    const path = listener.address as string;
    expect(existsSync(path)).toBe(true);
    listener.close();
    listener.close();
    expect(existsSync(path)).toBe(false);
    expect(() => listener.acceptSync(0)).toThrow(/closed/);
  });

  test("over TCP a message larger than the socket buffers streams whole (no memfd), from another program", async () => {
    const listener = new Listener({ address: ["127.0.0.1", 0] });
    const index = new URL("../src/index.ts", import.meta.url).pathname;
    const script = `import { ClientSync } from ${JSON.stringify(index)};
      const c = ClientSync(${JSON.stringify(listener.address)});
      c.sendBytes(new Uint8Array(24 << 20).map((_, i) => i & 0xff)); c.close();`;
    const sender = Bun.spawn([process.execPath, "-e", script], { stderr: "inherit" });
    const server = await listener.accept(20_000);
    const got = await server.recvBytes();
    expect(got.byteLength).toBe(24 << 20);
    expect(got.every((b, i) => b === (i & 0xff))).toBe(true);
    expect(await sender.exited).toBe(0);
    closeAll(server, listener);
  });

  test("over TCP a library object that holds descriptors or shared memory is a PicklingError naming its path", async () => {
    const { listener, client, server } = await pair({ address: ["127.0.0.1", 0] });
    const [a, b] = Pipe();
    expect(() => client.send({ ok: 1, lock: Lock() })).toThrow(PicklingError);
    expect(() => client.send({ ok: 1, lock: Lock() })).toThrow(
      /^Cannot send obj\.lock: a Lock holds shared memory of this machine, which cannot travel over TCP/,
    );
    expect(() => client.send([a])).toThrow(/^Cannot send obj\[0\]: a Connection holds a descriptor of this machine/);
    client.send("still usable");
    expect(await server.recv()).toBe("still usable");
    closeAll(a, b, client, server, listener);
  });

  test("a TCP Connection sent over a Pipe stays TCP: it still refuses descriptors", async () => {
    const { listener, client, server } = await pair({ address: ["127.0.0.1", 0] });
    const [a, b] = Pipe();
    a.send(client);
    const moved = b.recvSync() as Connection;
    expect(() => moved.send(Lock())).toThrow(/cannot travel over TCP/);
    moved.send("via the moved end");
    expect(await server.recv()).toBe("via the moved end");
    closeAll(a, b, client, moved, server, listener);
  });

  test("errors name the address: nobody listening (ENOENT, ECONNREFUSED), an address in use, a bad address", async () => {
    const missing = `/tmp/multiproc-no-such-listener-${process.pid}`;
    let error: unknown;
    try {
      ClientSync(missing);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BackendError);
    expect((error as { code?: string }).code).toBe("ENOENT");
    expect((error as Error).message).toContain(missing);
    const closed = new Listener({ address: ["127.0.0.1", 0] });
    const port = (closed.address as [string, number])[1];
    closed.close();
    await expect(Client(["127.0.0.1", port])).rejects.toMatchObject({ code: "ECONNREFUSED" });
    const taken = new Listener({ address: ["127.0.0.1", 0] });
    expect(() => new Listener({ address: taken.address })).toThrow(/address is in use/);
    taken.close();
    expect(() => new Listener({ address: ["127.0.0.1", 70000] as never })).toThrow(TypeError);
    expect(() => new Listener({ address: "" })).toThrow(RangeError);
    expect(() => new Listener({ address: "x".repeat(200) })).toThrow(/1 to 107 bytes/);
    expect(() => new Listener({ backlog: 0 })).toThrow(RangeError);
    expect(() => ClientSync(["no-such-host.invalid", 1])).toThrow(/Cannot resolve host "no-such-host.invalid"/);
  });

  test("acceptSync(timeout) and accept(timeout) throw TimeoutError when nobody comes", async () => {
    const listener = new Listener();
    expect(() => listener.acceptSync(30)).toThrow(TimeoutError);
    await expect(listener.accept(30)).rejects.toBeInstanceOf(TimeoutError);
    expect(() => listener.acceptSync(-1)).toThrow(TimeoutError); // negative: do not wait
    listener.close();
  });

  test("no descriptor is left after connections come and go", async () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const { listener, client, server } = await pair(i % 2 === 0 ? {} : { address: ["127.0.0.1", 0] }, undefined);
      closeAll(client, server, listener);
    }
    expect(openFds()).toBe(before);
  });
});

describe("auth keys", () => {
  test("with the same key both sides prove it and the connection works; a string and its bytes are one key", async () => {
    const listener = new Listener({ authkey: new TextEncoder().encode("secret") });
    const [client, server] = await Promise.all([
      Client(listener.address, { authkey: "secret" }),
      listener.accept(5000),
    ]);
    client.send("authenticated");
    expect(await server.recv()).toBe("authenticated");
    closeAll(client, server, listener);
  });

  test("Client() sends its challenge right behind its answer, before the listener's welcome (four trips, not six)", async () => {
    // The listener's part played by hand, in Python's order, over a listener without a key.
    const enc = new TextEncoder();
    const hmac = (m: Uint8Array) => {
      const h = new Bun.CryptoHasher("sha256", enc.encode("secret"));
      h.update(m.subarray("#CHALLENGE#".length));
      return h.digest() as Uint8Array;
    };
    const listener = new Listener();
    const client = Client(listener.address, { authkey: "secret", timeout: 5000 });
    const raw = await listener.accept(5000);
    const challenge = new Uint8Array([...enc.encode("#CHALLENGE#{sha256}"), ...new Uint8Array(40).fill(7)]);
    raw.sendBytes(challenge);
    expect(await raw.pollAsync(5000)).toBe(true);
    expect(await raw.recvBytes(256)).toEqual(hmac(challenge));
    // Nothing sent back yet, and the client's challenge is already on its way.
    expect(await raw.pollAsync(5000)).toBe(true);
    const theirs = await raw.recvBytes(256);
    expect(new TextDecoder().decode(theirs.subarray(0, 19))).toBe("#CHALLENGE#{sha256}");
    raw.sendBytes(enc.encode("#WELCOME#"));
    raw.sendBytes(hmac(theirs));
    expect(await raw.pollAsync(5000)).toBe(true);
    expect(new TextDecoder().decode(await raw.recvBytes(256))).toBe("#WELCOME#");
    const conn = await client;
    conn.send("past the handshake");
    expect(await raw.recv()).toBe("past the handshake");
    closeAll(conn, raw, listener);
  });

  test("Listener accepts a client in Python's order too (its challenge only after the welcome)", async () => {
    const enc = new TextEncoder();
    const hmac = (m: Uint8Array) => {
      const h = new Bun.CryptoHasher("sha256", enc.encode("secret"));
      h.update(m.subarray("#CHALLENGE#".length));
      return h.digest() as Uint8Array;
    };
    const listener = new Listener({ authkey: "secret" });
    const accepted = listener.accept(5000);
    const raw = await Client(listener.address); // no key: the client's part is played by hand
    const next = async () => {
      expect(await raw.pollAsync(5000)).toBe(true);
      return await raw.recvBytes(256);
    };
    raw.sendBytes(hmac(await next()));
    expect(new TextDecoder().decode(await next())).toBe("#WELCOME#");
    expect(await raw.pollAsync(50)).toBe(false); // the listener waits for our challenge
    const challenge = new Uint8Array([...enc.encode("#CHALLENGE#{sha256}"), ...new Uint8Array(40).fill(9)]);
    raw.sendBytes(challenge);
    expect(await next()).toEqual(hmac(challenge));
    raw.sendBytes(enc.encode("#WELCOME#"));
    const conn = await accepted;
    raw.send("in");
    expect(await conn.recv()).toBe("in");
    closeAll(conn, raw, listener);
  });

  test("a wrong key fails that client only; the listener goes on and accepts the next one", async () => {
    const listener = new Listener({ address: ["127.0.0.1", 0], authkey: "right" });
    const accepted = listener.accept(10_000);
    await expect(Client(listener.address, { authkey: "wrong" })).rejects.toBeInstanceOf(AuthenticationError);
    const good = await Client(listener.address, { authkey: "right" });
    const server = await accepted;
    good.send(1);
    expect(await server.recv()).toBe(1);
    closeAll(good, server, listener);
  });

  test("a client with a key against a listener without one fails with AuthenticationError", async () => {
    const listener = new Listener();
    const accepted = listener.accept(5000);
    // The listener sends no challenge: the client's wait for one ends at its timeout.
    await expect(Client(listener.address, { authkey: "k", timeout: 300 })).rejects.toThrow(
      /did not send the auth key challenge in time/,
    );
    (await accepted).close();
    listener.close();
  });

  test("nothing an unauthenticated peer sends is decoded: a raw client's payload never reaches loads", async () => {
    const { pathToFileURL } = await import("node:url");
    const bait = new URL("./fixtures/import-mark.ts", import.meta.url).pathname;
    const listener = new Listener({ authkey: "k" });
    const accepted = listener.acceptSync.bind(listener);
    // A peer that skips the handshake and sends a codec payload naming a module at once.
    const raw = ClientSync(listener.address);
    raw.send({ f: pathToFileURL(bait).href });
    expect(() => accepted(300)).toThrow(TimeoutError); // refused, and the wait went on
    expect(raw.poll(1000)).toBe(true);
    expect(() => raw.recvSync()).toThrow(); // the listener's challenge, then the end: never a decoded reply
    raw.close();
    listener.close();
  });
});

describe("wait", () => {
  test("wait and waitSync return the Connections with a message or the end of the stream, in the order given", async () => {
    const [a1, b1] = Pipe();
    const [a2, b2] = Pipe();
    expect(waitSync([a1, a2], 0)).toEqual([]);
    expect(await wait([a1, a2], 20)).toEqual([]);
    b2.send("x");
    expect(waitSync([a1, a2], 1000)).toEqual([a2]);
    b1.close();
    expect(await wait([a1, a2], 1000)).toEqual([a1, a2]);
    closeAll(a1, a2, b2);
  });

  test("wait wakes when a message arrives later; a descriptor number counts when readable", async () => {
    const [a, b] = Pipe();
    setTimeout(() => b.send("later"), 30);
    expect(await wait([a], 5000)).toEqual([a]);
    expect(waitSync([a.fileno()], 0)).toEqual([a.fileno()]);
    closeAll(a, b);
  });

  test("wait refuses what it cannot wait for", async () => {
    const [a, b] = Pipe();
    a.close();
    expect(() => waitSync([a], 0)).toThrow(/closed/);
    expect(() => waitSync([-1], 0)).toThrow(RangeError);
    expect(() => waitSync([])).toThrow(/nothing to wait for/);
    expect(waitSync([], 10)).toEqual([]);
    b.close();
  });
});
