/**
 * A manager connection's lane (lane.ts, #20): calls to a server on this
 * host go through shared memory, and what the lane does not carry (a value
 * over its slot, descriptors, waking a side that sleeps, the end of the
 * connection) through the socket. A peer that breaks the lane's protocol is
 * dropped and logged; the server's other clients go on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type AutoProxy,
  BaseManager,
  Client,
  type Connection,
  type DictProxy,
  EOFError,
  Manager,
  Pipe,
  type SyncManager,
} from "../src/index.ts";
import { encodeCarrying } from "../src/channel/fd-transfer.ts";
import { Lane, LANE_BYTES, SEGMENT_BYTES } from "../src/managers/lane.ts";
import { dupFd } from "../src/native/socket.ts";
import { createFixedSegment, createSegment, type Segment } from "../src/native/memfd.ts";
import { Counter } from "./fixtures/manager-targets.ts";
import { captureStderr } from "./fixtures/stderr-capture.ts";

const T = 30_000;
const KEY = "lane key";

/** Bytes that are not all one value, so a copy cut or shifted anywhere shows. */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe("Lane: the doorbell", () => {
  /** Both sides of one lane in this process, with the two ends of a Pipe for their sockets. */
  function pair(): { client: Lane; server: Lane; cc: Connection; sc: Connection; close(): void } {
    const segment = createFixedSegment(SEGMENT_BYTES);
    const client = new Lane(segment, segment.fd, true);
    const server = Lane.adopt(dupFd(segment.fd));
    const [cc, sc] = Pipe();
    return {
      client,
      server,
      cc,
      sc,
      close() {
        for (const x of [client, server, cc, sc]) x.close();
      },
    };
  }

  test("rings only for a side that sleeps: a waiter past its spin is woken by it, a spinning one reads the slot", async () => {
    const { client, server, cc, sc, close } = pair();
    try {
      // The client stops spinning (nothing comes) and sleeps on its socket.
      const reply = client.receive(cc);
      server.deliver(sc, encodeCarrying(["#RETURN", 1], "obj"));
      expect(cc.poll(0)).toBe(true); // the doorbell is on the client's socket
      expect(await reply).toEqual(["#RETURN", 1]);
      // A doorbell left on the socket (its receive saw the slot first) is no message: the next one skips it.
      const second = client.receive(cc);
      server.deliver(sc, encodeCarrying(["#RETURN", 2], "obj"));
      expect(await second).toEqual(["#RETURN", 2]);
      while (cc.poll(0)) expect(cc.recvSync()).toBeNull();
      // Posted while the peer spins (its flag down): no doorbell, the slot is read at once.
      client.deliver(cc, encodeCarrying(["call", "1", "get", ["k"]], "obj"));
      expect(sc.poll(0)).toBe(false);
      expect(server.receiveSync(sc)).toEqual(["call", "1", "get", ["k"]]);
      server.deliver(sc, encodeCarrying(["#RETURN", 3], "obj"));
      expect(cc.poll(0)).toBe(false);
      expect(client.receiveSync(cc)).toEqual(["#RETURN", 3]);
    } finally {
      close();
    }
  });

  test("a receive ends with EOFError when the peer's end closes while it sleeps", async () => {
    const { client, cc, sc, close } = pair();
    try {
      const reply = client.receive(cc);
      sc.close();
      await expect(reply).rejects.toThrow(EOFError);
      expect(() => client.receiveSync(cc)).toThrow(EOFError);
    } finally {
      close();
    }
  });
});

describe("manager lane: what it carries and what goes on the socket", () => {
  let m: SyncManager;
  let d: DictProxy<string, unknown>;
  beforeAll(async () => {
    m = await Manager();
    d = await m.dict<string, unknown>();
  }, T);
  afterAll(async () => {
    await m.shutdown();
  }, T);

  test(
    "values around and over the slot's size, both ways, Sync and await",
    async () => {
      for (const n of [0, 1000, LANE_BYTES - 64, LANE_BYTES + 1, 4 * LANE_BYTES, 2 * 1024 * 1024]) {
        const v = pattern(n, n & 0xff);
        d.setSync("sync", v);
        expect(d.getSync("sync")).toEqual(v);
        await d.set("await", v);
        expect(await d.get("await")).toEqual(v);
      }
      expect(await d.size()).toBe(2);
    },
    T,
  );

  test(
    "a value that carries a descriptor (a Connection) goes to the server and back",
    async () => {
      const [a, b] = Pipe();
      d.setSync("end", b);
      b.close();
      const back = d.getSync("end") as Connection;
      a.send({ hello: "through the server's copy" });
      expect(back.recvSync()).toEqual({ hello: "through the server's copy" });
      back.close();
      a.close();
      await d.pop("end");
    },
    T,
  );

  test(
    "a client asleep through a long call, and a server asleep between calls, are woken",
    async () => {
      const ev = await m.Event();
      // The server sets the event 40 ms after this call: the client has stopped spinning long before.
      const setter = setTimeout(() => ev.setSync(), 40);
      const waiter = await m.Event();
      expect(await waiter.wait(10)).toBe(false); // a call that ends on the server's own timer
      clearTimeout(setter);
      for (const pause of [0, 5, 30]) {
        await Bun.sleep(pause); // the server sleeps on its socket by now
        d.setSync("k", pause);
        expect(d.getSync("k")).toBe(pause);
        expect(await d.get("k")).toBe(pause);
      }
    },
    T,
  );
});

class LaneManager extends BaseManager {}
LaneManager.register("Counter", Counter);

describe("manager lane: a peer that breaks its protocol is dropped and logged", () => {
  const stderr = captureStderr();

  /** A server in this process on a unix socket, and a client of it that must keep working. */
  async function withServer(body: (address: string) => Promise<void>): Promise<void> {
    const manager = new LaneManager({ authkey: KEY });
    const server = manager.getServer();
    const serving = server.serveForever();
    const address = server.address as string;
    const good = new LaneManager({ address, authkey: KEY });
    await good.connect();
    const counter = await (good as unknown as { Counter(): Promise<AutoProxy> }).Counter();
    try {
      // Async calls only: a Sync one would block the event loop this server runs on.
      expect(await counter.increment!(1)).toBe(1);
      await body(address);
      expect(await counter.increment!(1)).toBe(2);
    } finally {
      server.close();
      await serving;
    }
  }

  /**
   * Opens a connection, says hello with a lane over `segment` whose descriptor
   * sent is `sent`'s, and returns it once the server answered.
   */
  async function helloWith(address: string, segment: Segment, sent = segment): Promise<Connection> {
    const c = await Client(address, { authkey: KEY, timeout: 5000 });
    c.send(["hello", "lane-test", new Lane(segment, sent.fd, true)]);
    expect(await c.pollAsync(5000)).toBe(true);
    return c;
  }

  /** Waits until the server ended connection `c`, and returns the one logged reason. */
  async function droppedFor(c: Connection): Promise<string> {
    expect(await c.pollAsync(5000)).toBe(true);
    await expect(c.recv()).rejects.toThrow(EOFError);
    c.close();
    const drops = stderr.lines.filter((l) => l.includes("dropped peer"));
    expect(drops).toHaveLength(1);
    return drops[0]!;
  }

  test(
    "a lane whose size is not sealed (the peer could shrink it under the server's reads)",
    async () => {
      await withServer(async (address) => {
        const c = await helloWith(address, createSegment(SEGMENT_BYTES));
        expect(await droppedFor(c)).toMatch(
          /cannot decode a request: .*"ManagerLane" could not rebuild its object: Descriptor \d+ is not a segment of sealed size \(seals 1, need 7\)/,
        );
      });
    },
    T,
  );

  test(
    "a lane of the wrong size",
    async () => {
      await withServer(async (address) => {
        const half = createFixedSegment(SEGMENT_BYTES / 2);
        const c = await helloWith(address, createFixedSegment(SEGMENT_BYTES), half);
        expect(await droppedFor(c)).toMatch(
          new RegExp(
            `"ManagerLane" could not rebuild its object: Segment of ${SEGMENT_BYTES / 2} bytes, expected ${SEGMENT_BYTES}`,
          ),
        );
      });
    },
    T,
  );

  test(
    "a length outside the slot, and a message on the socket the slot did not announce",
    async () => {
      await withServer(async (address) => {
        const segment = createFixedSegment(SEGMENT_BYTES);
        const c = await helloWith(address, segment);
        expect(await c.recv()).toEqual(["#RETURN", null]);
        const words = new Int32Array(segment.buffer, 0, 2);
        Atomics.store(words, 1, LANE_BYTES + 1); // the request's length
        Atomics.add(words, 0, 1); // its sequence number: posted
        expect(await droppedFor(c)).toMatch(
          new RegExp(
            `cannot decode a request: ProcessError: Manager lane: message length ${LANE_BYTES + 1} is outside`,
          ),
        );
        stderr.clear();
        const c2 = await helloWith(address, createFixedSegment(SEGMENT_BYTES));
        expect(await c2.recv()).toEqual(["#RETURN", null]);
        c2.send(["numberOfObjects"]); // on the socket, past the lane
        expect(await droppedFor(c2)).toMatch(/a message came on the socket that its slot did not announce/);
      });
    },
    T,
  );
});
