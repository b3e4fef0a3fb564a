/**
 * Fuzzing the Connection wire format (#16): honest frames (in-stream, out of
 * line with a memfd, CHUNKED in pieces ending in the stream or in a memfd
 * (#18), with descriptors, split over several writes), then
 * mutated (a header field overwritten, a byte flipped, bytes inserted, the
 * stream cut, descriptors added, dropped or moved, a memfd of the wrong size)
 * or replaced by random bytes, are written raw into one end of a socket pair
 * and read by a live Connection on the other. Each case asserts: the messages
 * before the first damaged byte arrive intact, everything else is a value or a
 * library error (EOFError; RangeError only for maxLength), the read side never
 * hangs, and no descriptor is left open. The same cases run again on a
 * Connection that reads ahead (#20).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readAhead } from "../src/channel/connection.ts";
import { MAX_MESSAGE } from "../src/channel/framing.ts";
import { EOFError } from "../src/index.ts";
import { closeFd } from "../src/native/file.ts";
import { memfdWith } from "../src/native/memfd.ts";
import { openFds, startWaitHelpers } from "./fixtures/os-resources.ts";
import { concat, header, rawPair, within, writeRaw } from "./fixtures/raw-frames.ts";

/** Bound of any wait that should end at once: a bug fails the case instead of hanging the suite. */
const LIMIT = 5000;
/** How long an open writer's stream is read before the writer closes (a message may legitimately wait for more). */
const OPEN_READ_MS = 20;
const RUNS = Number(process.env.FUZZ_RUNS ?? 8000);

/** One sendmsg: bytes, and the contents of the memfds attached to its first byte. */
interface Segment {
  bytes: Uint8Array;
  fds: Uint8Array[];
}

interface Honest {
  payload: Uint8Array;
  /** Extra descriptors sent with it (as `send` does for library objects). */
  extra: number;
  /** Out of line: `streamed` bytes in the stream, the rest in a memfd (CHUNKED: its last piece, all in a memfd). */
  outOfLine: boolean;
  /** CHUNKED: in 1-3 pieces (`split` says how many). */
  chunked: boolean;
  split: number;
  /** Sends the frame in two writes, cut here (descriptors with the first). */
  cut: number;
}

type Mutation =
  | { kind: "none" }
  | { kind: "field"; msg: number; field: keyof typeof FIELDS; value: number }
  | { kind: "flip"; at: number; xor: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "truncate"; at: number }
  | { kind: "fds"; msg: number; delta: number }
  | { kind: "moveFds"; msg: number; to: number }
  | { kind: "memfd"; msg: number; delta: number }
  | { kind: "random"; bytes: Uint8Array; fds: number };

/** Byte offset and width of each header field. */
const FIELDS = {
  length: [0, 4],
  fds: [4, 2],
  flags: [6, 1],
  reserved: [7, 1],
  streamed: [8, 4],
  zero: [12, 4],
} as const;

const ONE = new Uint8Array([1]);

const honest: fc.Arbitrary<Honest> = fc.record({
  payload: fc.oneof(
    { weight: 30, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    // Never zero-filled: after a damaged header, zeros read as thousands of valid empty frames.
    { weight: 1, arbitrary: fc.integer({ min: 65_000, max: 150_000 }).map((n) => new Uint8Array(n).fill(n | 1)) },
  ),
  extra: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  outOfLine: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  chunked: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  split: fc.nat(),
  cut: fc.nat(),
});

const interesting = fc.oneof(
  fc.constantFrom(0, 1, 2, 7, 8, 16, 253, 254, 255, 65_535, 65_536, MAX_MESSAGE, MAX_MESSAGE + 1, 0xffff_ffff),
  fc.nat({ max: 0xffff_ffff }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("field" as const),
      msg: fc.nat(),
      field: fc.constantFrom(...(Object.keys(FIELDS) as (keyof typeof FIELDS)[])),
      value: interesting,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("fds" as const), msg: fc.nat(), delta: fc.integer({ min: -3, max: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("moveFds" as const), msg: fc.nat(), to: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("memfd" as const),
      msg: fc.nat(),
      delta: fc.integer({ min: -5, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("random" as const),
      bytes: fc.uint8Array({ maxLength: 120 }),
      fds: fc.nat({ max: 4 }),
    }),
  },
);

const scenario = fc.record({
  messages: fc.array(honest, { maxLength: 6 }),
  mutation,
  maxLength: fc.option(fc.nat({ max: 300 }), { nil: undefined }),
  writerOpen: fc.boolean(),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The honest wire form of one message: its segments, and where its header field bytes are. */
function encode(m: Honest): Segment[] {
  const length = m.payload.byteLength;
  const extras = Array.from({ length: m.extra }, () => ONE);
  if (m.chunked) return encodeChunked(m, extras);
  let head: Uint8Array;
  let body: Uint8Array;
  let fds: Uint8Array[];
  if (m.outOfLine) {
    const streamed = m.split % (length + 1);
    head = header({ length, fds: 1 + m.extra, flags: 1, streamed });
    body = m.payload.subarray(0, streamed);
    fds = [m.payload.subarray(streamed), ...extras];
  } else {
    head = header({ length, fds: m.extra });
    body = m.payload;
    fds = extras;
  }
  const bytes = concat(head, body);
  const cut = 1 + (m.cut % bytes.byteLength);
  if (cut >= bytes.byteLength) return [{ bytes, fds }];
  return [
    { bytes: bytes.subarray(0, cut), fds },
    { bytes: bytes.subarray(cut), fds: [] },
  ];
}

/**
 * A CHUNKED message: its header and plain pieces in one write (split in two
 * at `cut`), and when `outOfLine` the rest as an OUT_OF_LINE piece in its own
 * write, as the sender does.
 */
function encodeChunked(m: Honest, extras: Uint8Array[]): Segment[] {
  const length = m.payload.byteLength;
  const inMemfd = m.outOfLine && length > 0 ? 1 + (m.cut % length) : 0;
  const streamed = length - inMemfd;
  const pieces = Math.min(streamed, 1 + (m.split % 3));
  const parts: Uint8Array[] = [header({ length, fds: m.extra, flags: 2 })];
  for (let k = 0, at = 0; k < pieces; k++) {
    const end = k === pieces - 1 ? streamed : at + Math.floor(streamed / pieces);
    parts.push(header({ length: end - at }), m.payload.subarray(at, end));
    at = end;
  }
  const segments: Segment[] = [{ bytes: concat(...parts), fds: extras }];
  if (inMemfd > 0) {
    segments.push({
      bytes: header({ length: inMemfd, fds: 1, flags: 1, streamed: 0 }),
      fds: [m.payload.subarray(streamed)],
    });
  }
  return segments;
}

/** Applies `mutation` to the honest frames; returns the segments and how many leading messages it leaves intact. */
function damage(s: Scenario): { segments: Segment[]; intact: number } {
  const perMessage = s.messages.map(encode);
  const n = perMessage.length;
  const mut = s.mutation;
  if (mut.kind === "random")
    return { segments: [{ bytes: mut.bytes, fds: Array.from({ length: mut.fds }, () => ONE) }], intact: 0 };
  if (mut.kind === "none" || n === 0) return { segments: perMessage.flat(), intact: n };
  const i = (mut as { msg?: number }).msg !== undefined ? (mut as { msg: number }).msg % n : 0;
  switch (mut.kind) {
    case "field": {
      const first = perMessage[i]![0]!;
      const [at, width] = FIELDS[mut.field];
      const bytes = first.bytes.slice();
      const view = new DataView(bytes.buffer);
      if (at + width > bytes.byteLength) return { segments: perMessage.flat(), intact: n }; // no such field here
      if (width === 4) view.setUint32(at, mut.value >>> 0, true);
      else if (width === 2) view.setUint16(at, mut.value & 0xffff, true);
      else view.setUint8(at, mut.value & 0xff);
      perMessage[i]![0] = { bytes, fds: first.fds };
      return { segments: perMessage.flat(), intact: i };
    }
    case "fds": {
      const first = perMessage[i]![0]!;
      const fds = mut.delta < 0 ? first.fds.slice(0, Math.max(0, first.fds.length + mut.delta)) : [...first.fds];
      for (let k = 0; k < mut.delta; k++) fds.push(ONE);
      perMessage[i]![0] = { bytes: first.bytes, fds };
      return { segments: perMessage.flat(), intact: i };
    }
    case "moveFds": {
      const segments = perMessage.flat();
      const from = perMessage.slice(0, i).reduce((k, p) => k + p.length, 0);
      const to = mut.to % segments.length;
      const fds = segments[from]!.fds;
      segments[from] = { bytes: segments[from]!.bytes, fds: [] };
      segments[to] = { bytes: segments[to]!.bytes, fds: [...segments[to]!.fds, ...fds] };
      return { segments, intact: fds.length === 0 ? n : Math.min(i, segmentOwner(perMessage, to)) };
    }
    case "memfd": {
      // The memfd comes with the first write, or a CHUNKED message's last.
      const where = s.messages[i]!.chunked ? perMessage[i]!.length - 1 : 0;
      const first = perMessage[i]![where]!;
      if (!s.messages[i]!.outOfLine || mut.delta === 0 || first.fds.length === 0) {
        return { segments: perMessage.flat(), intact: n };
      }
      const rest = first.fds[0]!;
      const size = Math.max(0, rest.byteLength + mut.delta);
      const changed = new Uint8Array(size);
      changed.set(rest.subarray(0, Math.min(size, rest.byteLength)));
      perMessage[i]![where] = { bytes: first.bytes, fds: [changed, ...first.fds.slice(1)] };
      return { segments: perMessage.flat(), intact: size === rest.byteLength ? n : i };
    }
    default: {
      // Byte-level damage at a stream offset: the messages wholly before it are intact.
      const wire = concat(...perMessage.flat().map((x) => x.bytes));
      const at = wire.byteLength === 0 ? 0 : mut.at % wire.byteLength;
      let intact = 0;
      for (let end = 0; intact < n; intact++) {
        end += perMessage[intact]!.reduce((k, x) => k + x.bytes.byteLength, 0);
        if (end > at) break;
      }
      const segments = perMessage.flat();
      let base = 0;
      for (let k = 0; k < segments.length; k++) {
        const seg = segments[k]!;
        if (at < base + seg.bytes.byteLength) {
          const off = at - base;
          if (mut.kind === "flip") {
            const bytes = seg.bytes.slice();
            bytes[off]! ^= mut.xor;
            segments[k] = { bytes, fds: seg.fds };
          } else if (mut.kind === "insert") {
            segments[k] = {
              bytes: concat(seg.bytes.subarray(0, off), mut.bytes, seg.bytes.subarray(off)),
              fds: seg.fds,
            };
          } else {
            segments.length = k + 1;
            if (off === 0) segments.pop();
            else segments[k] = { bytes: seg.bytes.subarray(0, off), fds: seg.fds };
          }
          break;
        }
        base += seg.bytes.byteLength;
      }
      return { segments, intact };
    }
  }
}

/** Which message segment `k` of the flattened list belongs to. */
function segmentOwner(perMessage: Segment[][], k: number): number {
  let seen = 0;
  for (let m = 0; m < perMessage.length; m++) {
    seen += perMessage[m]!.length;
    if (k < seen) return m;
  }
  return perMessage.length;
}

type Outcome = Uint8Array | Error;

/** The allowed error kinds: an EOFError, or the RangeError of a refused long message. */
function expectLibraryError(e: unknown, maxLength: number | undefined): asserts e is Error {
  if (e instanceof EOFError) return;
  if (
    e instanceof RangeError &&
    maxLength !== undefined &&
    /is longer than maxLength \d+; it was dropped$/.test(e.message)
  )
    return;
  throw new Error(`Not a library error: ${String(e)}`, { cause: e });
}

/** Reads until the end of the stream or a broken frame (bounded), with the writer closed. */
function readClosed(
  pair: ReturnType<typeof rawPair>,
  maxLength: number | undefined,
  out: Outcome[],
  cap: number,
): void {
  for (let i = 0; i < cap; i++) {
    if (!pair.conn.poll(LIMIT)) throw new Error("poll() stayed false with the writer closed");
    try {
      out.push(pair.conn.recvBytesSync(maxLength));
    } catch (e) {
      expectLibraryError(e, maxLength);
      out.push(e);
      if (e instanceof EOFError) return;
    }
  }
  throw new Error(`No end after ${cap} receives`);
}

/** Reads what an open writer has sent (a message may wait for bytes that never come), then closes the writer. */
async function readOpen(pair: ReturnType<typeof rawPair>, maxLength: number | undefined, out: Outcome[], cap: number) {
  for (let i = 0; i < cap && pair.conn.poll(0); i++) {
    const pending = pair.conn.recvBytes(maxLength);
    try {
      out.push(await within(pending, OPEN_READ_MS, "recvBytes"));
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("recvBytes: nothing within")) {
        // Waiting for the rest of a message: the writer closing ends the wait.
        pair.closePeer();
        try {
          out.push(await within(pending, LIMIT, "recvBytes after the writer closed"));
        } catch (e2) {
          expectLibraryError(e2, maxLength);
          out.push(e2);
          if (e2 instanceof EOFError) return;
        }
        break;
      }
      expectLibraryError(e, maxLength);
      out.push(e);
      if (e instanceof EOFError) return;
    }
  }
  pair.closePeer();
  readClosed(pair, maxLength, out, cap);
}

const empty = { payload: new Uint8Array(0), extra: 0, split: 0, cut: 0, chunked: false };
/**
 * Counterexamples the fuzzer found in the reader before #16 (each failed there,
 * run first on every run): a later receive returned a message after the stream
 * had ended (an OUT_OF_LINE frame whose memfd is shorter than length -
 * streamed, and a frame that claims a descriptor that never came), bytes
 * inserted between frames, and an OUT_OF_LINE frame whose streamed is 1 with
 * length 0 (read past the message's array).
 */
const REGRESSIONS: Scenario[] = [
  {
    messages: [
      { ...empty, outOfLine: true, cut: 19088419 },
      { ...empty, outOfLine: false },
    ],
    mutation: { kind: "field", msg: 2, field: "length", value: 1 },
    maxLength: undefined,
    writerOpen: false,
  },
  {
    messages: [
      { ...empty, outOfLine: false, cut: 906131653 },
      { ...empty, outOfLine: true },
      { ...empty, outOfLine: false },
    ],
    mutation: { kind: "field", msg: 0, field: "fds", value: 1 },
    maxLength: undefined,
    writerOpen: false,
  },
  {
    messages: [
      { ...empty, outOfLine: false },
      { ...empty, payload: new Uint8Array([0]), outOfLine: false },
    ],
    mutation: { kind: "insert", at: 927004192, bytes: new Uint8Array([33, 0]) },
    maxLength: undefined,
    writerOpen: false,
  },
  {
    messages: [
      { ...empty, extra: 1, outOfLine: true },
      { ...empty, outOfLine: false },
    ],
    mutation: { kind: "flip", at: 8, xor: 1 },
    maxLength: undefined,
    writerOpen: false,
  },
];

let cases = 0;

/** Runs one scenario; `ahead`: the reading Connection reads ahead (#20), reads take all the socket has. */
async function runCase(s: Scenario, ahead = false): Promise<void> {
  cases++;
  const before = openFds();
  const { segments, intact } = damage(s);
  const pair = rawPair();
  if (ahead) readAhead(pair.conn);
  try {
    for (const seg of segments) {
      const fds = seg.fds.map((c) => memfdWith(c));
      try {
        if (seg.bytes.byteLength === 0) continue;
        if (writeRaw(pair.peer, seg.bytes, fds) < seg.bytes.byteLength)
          throw new Error("Socket buffer full in a fuzz case");
      } catch (e) {
        // The reader may have broken the stream already; nothing else may fail a write.
        if (!(e instanceof Error) || !/EPIPE|ECONNRESET/.test(e.message)) throw e;
      } finally {
        for (const fd of fds) closeFd(fd);
      }
    }
    const out: Outcome[] = [];
    const cap = s.messages.length + 8;
    if (s.writerOpen) await readOpen(pair, s.maxLength, out, cap);
    else {
      pair.closePeer();
      readClosed(pair, s.maxLength, out, cap);
    }
    // The messages before the damage arrive as sent (or are refused by maxLength).
    for (let i = 0; i < intact; i++) {
      const sent = s.messages[i]!.payload;
      const got = out[i];
      if (s.maxLength !== undefined && sent.byteLength > s.maxLength) expect(got).toBeInstanceOf(RangeError);
      else expect(got).toEqual(sent);
    }
    if (s.mutation.kind === "none") {
      expect(out.length).toBe(s.messages.length + 1);
      expect((out.at(-1) as Error).message).toBe(
        "The other end of the connection is closed and nothing is left to read",
      );
    }
    for (const got of out) {
      if (got instanceof Uint8Array) expect(got.byteLength).toBeLessThanOrEqual(s.maxLength ?? MAX_MESSAGE);
    }
    // Once it ended, it stays ended.
    expect(() => pair.conn.recvBytesSync()).toThrow(EOFError);
  } finally {
    pair.close();
  }
  // At most: a finalizer of another test file may close a dropped Connection meanwhile; a leak only adds.
  expect(openFds()).toBeLessThanOrEqual(before);
}

describe("Connection fuzz (#16)", () => {
  // Started in the middle of a case, they would count as descriptors it leaked.
  beforeAll(startWaitHelpers, 10_000);
  for (const ahead of [false, true]) {
    const mode = ahead ? " with readAhead" : "";
    test(`Connection.recvBytes()${mode} on random and mutated frames: intact prefix, library errors only, no hang, no leak`, async () => {
      cases = 0;
      Bun.gc(true);
      const rss = process.memoryUsage().rss;
      const started = performance.now();
      await fc.assert(
        fc.asyncProperty(scenario, (sc) => runCase(sc, ahead)),
        {
          numRuns: RUNS,
          interruptAfterTimeLimit: 60_000,
          examples: REGRESSIONS.map((r) => [r]),
          ...(process.env.SEED === undefined ? {} : { seed: Number(process.env.SEED) }),
        },
      );
      Bun.gc(true);
      const grown = process.memoryUsage().rss - rss;
      console.log(
        `fuzz-connection${mode}: ${cases} cases in ${((performance.now() - started) / 1000).toFixed(1)} s, RSS ${(grown / 2 ** 20).toFixed(0)} MiB more`,
      );
      expect(grown).toBeLessThan(256 << 20);
    }, 120_000);
  }
});
