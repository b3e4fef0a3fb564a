/**
 * Bad input from a peer (#20 point 4): garbage, a cut frame, a huge length
 * prefix, or a message in place of the auth key answer, written as raw bytes
 * into a socket against a live Listener or manager server. The peer is
 * dropped with one logged line naming it and why; the listener and its other
 * clients go on; nothing an unauthenticated peer sent is decoded.
 */
import { describe, expect, test } from "bun:test";
import { encodeCarrying } from "../src/channel/fd-transfer.ts";
import { registerReducer } from "../src/codec/reducers.ts";
import { type AutoProxy, BaseManager, Client, EOFError, Listener, PicklingError, TimeoutError } from "../src/index.ts";
import { Counter } from "./fixtures/manager-targets.ts";
import { concat, frame, header } from "./fixtures/raw-frames.ts";
import { captureStderr } from "./fixtures/stderr-capture.ts";

const KEY = "bad-peer key";

/** A value whose decoding counts itself and throws: a payload that must never reach the decoder unauthenticated. */
class Tripwire {
  armed = true;
}
let tripped = 0;
registerReducer(Tripwire, {
  tag: "test.Tripwire",
  reduce: (t: Tripwire) => ({ armed: t.armed }),
  rebuild: () => {
    tripped++;
    throw new Error("a Tripwire was decoded");
  },
});
const tripwireFrame = frame(encodeCarrying(new Tripwire(), "obj").bytes);

/** What each bad peer writes before closing its end, and what its logged reason says. */
const BAD: { name: string; bytes: Uint8Array; reason: RegExp }[] = [
  {
    name: "garbage",
    bytes: new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    reason: /flags 0x48 has bits other than OUT_OF_LINE/,
  },
  {
    name: "a truncated frame, then close",
    bytes: concat(header({ length: 100 }), new Uint8Array(10)),
    reason: /closed in the middle of a message/,
  },
  { name: "a 2^31 length prefix", bytes: header({ length: 2 ** 31 }), reason: /length 2147483648 exceeds the limit/ },
  {
    name: "a codec message instead of the challenge's answer",
    bytes: tripwireFrame,
    reason: /answer to the auth key challenge is wrong/,
  },
];

const stderr = captureStderr();

/**
 * Connects a raw socket, writes `bytes`, half-closes, and resolves when the
 * other side has closed the connection (or rejects after `ms`).
 */
async function rawPeer(address: string | [string, number], bytes: Uint8Array, end = true, ms = 5000) {
  let closed!: () => void;
  const gone = new Promise<void>((r) => {
    closed = r;
  });
  const handlers = { data() {}, close: () => closed(), end: () => closed(), error: () => closed() };
  const socket =
    typeof address === "string"
      ? await Bun.connect({ unix: address, socket: handlers })
      : await Bun.connect({ hostname: address[0], port: address[1], socket: handlers });
  if (bytes.byteLength > 0) socket.write(bytes);
  if (end) socket.shutdown();
  const timer = setTimeout(() => socket.end(), ms);
  return {
    socket,
    gone: gone.then(() => clearTimeout(timer)),
  };
}

/** A codec payload in its JSON form (codec/_wire.ts), written by hand as a hostile peer would. */
function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** The log lines that drop a peer. */
function drops(): string[] {
  return stderr.lines.filter((l) => l.includes("dropped peer"));
}

describe("Listener with an auth key: a bad peer is dropped and logged; the next client works", () => {
  for (const tcp of [true, false]) {
    for (const bad of BAD) {
      test(`${tcp ? "TCP" : "unix"}: ${bad.name}`, async () => {
        using listener = new Listener({
          authkey: KEY,
          ...(tcp ? { address: ["127.0.0.1", 0] as [string, number] } : {}),
        });
        const accepting = listener.accept(10_000);
        const peer = await rawPeer(listener.address, bad.bytes);
        await peer.gone; // the listener closed it
        const good = await Client(listener.address, { authkey: KEY, timeout: 5000 });
        const conn = await accepting;
        good.send({ n: 1 });
        expect(await conn.recv()).toEqual({ n: 1 });
        conn.send("back");
        expect(await good.recv()).toBe("back");
        expect(drops()).toHaveLength(1);
        expect(drops()[0]).toStartWith(`multiproc: <Listener ${tcp ? "127.0.0.1:" : '"'}`);
        expect(drops()[0]).toMatch(tcp ? /dropped peer 127\.0\.0\.1:\d+: / : /dropped peer unix peer \(fd \d+\): /);
        expect(drops()[0]).toMatch(bad.reason);
        expect(tripped).toBe(0);
        good.close();
        conn.close();
      });
    }
  }

  test("the Tripwire payload is live: decoded, it trips (so tripped === 0 above means it never was)", () => {
    const { decodeCarrying } =
      require("../src/channel/fd-transfer.ts") as typeof import("../src/channel/fd-transfer.ts");
    const before = tripped;
    expect(() => decodeCarrying(tripwireFrame.subarray(8), [])).toThrow();
    expect(tripped).toBe(before + 1);
    tripped = before;
  });

  test("acceptSync: a peer that sends before the challenge is dropped and logged, the wait goes on", async () => {
    using listener = new Listener({ authkey: KEY, address: ["127.0.0.1", 0] });
    const peer = await rawPeer(listener.address, tripwireFrame, false);
    await Bun.sleep(50); // its bytes are in before the listener's challenge goes out
    expect(() => listener.acceptSync(500)).toThrow(TimeoutError); // dropped; then no one else came
    await peer.gone;
    expect(drops()).toHaveLength(1);
    expect(drops()[0]).toMatch(/answer to the auth key challenge is wrong/);
    expect(tripped).toBe(0);
    const [good, conn] = await Promise.all([Client(listener.address, { authkey: KEY }), listener.accept(5000)]);
    good.send(7);
    expect(await conn.recv()).toBe(7);
    good.close();
    conn.close();
  });
});

describe("Listener without an auth key: the accepted connection says what was wrong, logged once", () => {
  for (const bad of BAD.slice(0, 3)) {
    test(bad.name, async () => {
      using listener = new Listener({ address: ["127.0.0.1", 0] });
      const accepting = listener.accept(5000);
      const peer = await rawPeer(listener.address, bad.bytes);
      const conn = await accepting;
      const err = await conn.recv().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EOFError);
      expect((err as Error).message).toMatch(bad.reason);
      expect(() => conn.recvSync()).toThrow(EOFError); // the stream stays broken, not logged again
      conn.close();
      await peer.gone;
      expect(drops()).toHaveLength(1);
      expect(drops()[0]).toMatch(/multiproc: <Listener 127\.0\.0\.1:\d+>: dropped peer 127\.0\.0\.1:\d+: /);
      expect(drops()[0]).toMatch(bad.reason);
      // The listener goes on.
      const [good, next] = await Promise.all([Client(listener.address), listener.accept(5000)]);
      good.send("ok");
      expect(await next.recv()).toBe("ok");
      good.close();
      next.close();
    });
  }

  test("a peer that closes cleanly is not logged", async () => {
    using listener = new Listener({ address: ["127.0.0.1", 0] });
    const [c, s] = await Promise.all([Client(listener.address), listener.accept(5000)]);
    c.close();
    expect(s.recv()).rejects.toThrow(EOFError);
    await Bun.sleep(10);
    s.close();
    expect(drops()).toEqual([]);
  });
});

class BadPeerManager extends BaseManager {}
BadPeerManager.register("Counter", Counter);

describe("manager server: bad peers are dropped and logged; other clients go on", () => {
  /** A server in this process, a good client connected before the bad peer, and one connected after. */
  async function withServer(body: (address: [string, number], before: AutoProxy) => Promise<void>) {
    const m = new BadPeerManager({ address: ["127.0.0.1", 0], authkey: KEY });
    const server = m.getServer();
    const serving = server.serveForever();
    const address = server.address as [string, number];
    const c = new BadPeerManager({ address, authkey: KEY });
    await c.connect();
    const mk = c as unknown as { Counter(): Promise<AutoProxy> };
    const before = await mk.Counter();
    try {
      await body(address, before);
      expect(await before.increment!(1)).toBe(1); // the client from before still works
      const after = new BadPeerManager({ address, authkey: KEY });
      await after.connect();
      const counter = await (after as unknown as { Counter(): Promise<AutoProxy> }).Counter();
      expect(await counter.increment!(5)).toBe(5);
    } finally {
      server.close();
      await serving;
    }
  }

  for (const bad of BAD) {
    test(bad.name, async () => {
      await withServer(async (address) => {
        const peer = await rawPeer(address, bad.bytes);
        await peer.gone;
        expect(drops()).toHaveLength(1);
        expect(drops()[0]).toMatch(/^multiproc: <Listener 127\.0\.0\.1:\d+>: dropped peer 127\.0\.0\.1:\d+: /);
        expect(drops()[0]).toMatch(bad.reason);
        expect(tripped).toBe(0);
      });
    });
  }

  test("a silent peer does not hold up other clients while its handshake waits", async () => {
    await withServer(async (address) => {
      const peer = await rawPeer(address, new Uint8Array(0), false);
      // A new connection (the link's idle one would hide a blocked accept): its handshake and first request.
      const start = performance.now();
      const conn = await Client(address, { authkey: KEY, timeout: 5000 });
      conn.send(["hello", "silent-test"]);
      expect(await conn.pollAsync(5000)).toBe(true);
      expect(await conn.recv()).toEqual(["#RETURN", null]);
      expect(performance.now() - start).toBeLessThan(5000); // the handshake limit is 20 s
      conn.close();
      peer.socket.end();
      await peer.gone;
    });
  }, 30_000);

  test("after the handshake: a malformed request, a request before hello, a broken frame", async () => {
    await withServer(async (address) => {
      const { writeSync } = await import("node:fs");
      const cases: [(c: Awaited<ReturnType<typeof Client>>) => void, RegExp][] = [
        [(c) => c.send(["nonsense", 1]), /malformed request \["nonsense", \.\.\.\] of 2 items/],
        [(c) => c.send(["call", "1", "increment", []]), /request "call" before "hello"/],
        [(c) => writeSync(c.fileno(), header({ length: 2 ** 31 })), /length 2147483648 exceeds the limit/],
        [(c) => c.send(new Tripwire()), /cannot decode a request: .*a Tripwire was decoded/],
        // Codec refusals: the payload is framed well but the decoder will not rebuild it.
        [
          (c) => writeSync(c.fileno(), frame(json(["call", "1", "get", "{"]).subarray(0, 9))),
          /cannot decode a request: PicklingError: Cannot load value: the payload is not valid/,
        ],
        [
          (c) =>
            writeSync(
              c.fileno(),
              frame(json({ __mp: "#root", s: ["call", "1", "get", [{ __mp: "no.such.tag", s: 1 }]] })),
            ),
          /cannot decode a request: PicklingError: Cannot load value\[3\]\[0\]: no reducer is registered for tag "no.such.tag"/,
        ],
        [
          (c) =>
            writeSync(
              c.fileno(),
              frame(
                json({
                  __mp: "#root",
                  s: ["call", "1", "get", [{ __mp: "#f", s: ["file:///nowhere/evil.ts", "run"] }]],
                }),
              ),
            ),
          /cannot decode a request: PicklingError: Cannot load value\[3\]\[0\]: .*file:\/\/\/nowhere\/evil\.ts, a module this process has not loaded/,
        ],
      ];
      for (const [act, reason] of cases) {
        stderr.clear();
        const c = await Client(address, { authkey: KEY });
        act(c);
        expect(await c.pollAsync(5000)).toBe(true);
        expect(c.recv()).rejects.toThrow(EOFError); // dropped: the end of the stream, no reply
        c.close();
        expect(drops()).toHaveLength(1);
        expect(drops()[0]).toMatch(reason);
      }
      tripped = 0; // the last case decoded one, after authentication, on purpose
    });
  });
});

describe("manager call with an unsendable argument", () => {
  test("is a PicklingError naming args[i].path at the caller; the proxy and connection go on", async () => {
    const m = new BadPeerManager({ authkey: KEY });
    await m.start();
    try {
      const counter = await (m as unknown as { Counter(): Promise<AutoProxy> }).Counter();
      class Local {
        #secret = 1;
        get secret() {
          return this.#secret;
        }
      }
      const cases: [unknown[], string][] = [
        [[1, { cb: () => 1 }], "args[1].cb"],
        [[Symbol("s")], "args[0]"],
        [[{ deep: [0, new Local()] }], "args[0].deep[1]"],
      ];
      for (const [args, path] of cases) {
        for (const sync of [false, true]) {
          let err: unknown;
          try {
            if (sync) counter.incrementSync!(...args);
            else await counter.increment!(...args);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(PicklingError);
          expect((err as PicklingError).path).toBe(path);
          expect((err as Error).message).toStartWith(`Cannot send ${path}: `);
          expect(await counter.increment!(1)).toBeGreaterThan(0); // the same proxy, the same connection
        }
      }
    } finally {
      await m.shutdown();
    }
  }, 30_000);
});
