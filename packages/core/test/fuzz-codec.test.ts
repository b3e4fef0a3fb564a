/**
 * Fuzzing the codec (#16): `loads` on random bytes, on payloads whose markers
 * have the wrong shape, on mutated payloads of `dumps`, on deep nesting and
 * cycles must end in a value or a `PicklingError` (never a TypeError or a
 * RangeError, never a hang) and must never import a module; `dumps` then
 * `loads` of any sendable value gives it back. Inputs that once found a bug
 * are kept below as regression cases.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { serialize } from "bun:jsc";
import fc from "fast-check";
import { dumps, loads, registerReducer } from "../src/codec/index.ts";
import { PicklingError } from "../src/errors.ts";
import { AppError, double, Point, Registry } from "./fixtures/codec-exports.ts";

const FIXTURES = `${import.meta.dir}/fixtures`;
/** A module that no test imports: a payload naming it must not load it. */
const BAIT = `${FIXTURES}/fuzz-bait.ts`;
const CORE_SRC = `${import.meta.dir.slice(0, -"test".length)}src/`;
const MARK = "__mp";
const TAGS = ["#root", "#f", "#c", "#e", "#o", "#zz", "fuzz.Box", "fuzz.Nobody", "", "__proto__"];
const encoder = new TextEncoder();

/** A library object stand-in whose rebuild checks its state as a careful reducer would not. */
export class FuzzBox {
  constructor(readonly value: { n: number }) {}
}
registerReducer(FuzzBox, {
  tag: "fuzz.Box",
  reduce: (box) => box.value,
  // Trusts its state: garbage makes it throw TypeError, which loads must turn into a PicklingError.
  rebuild: (state) => new FuzzBox({ n: (state as { n: number }).n.valueOf() }),
});

let cases = 0;
const started = performance.now();
afterAll(() => {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`fuzz-codec: ${cases} cases in ${seconds} s`);
});

const modulesBefore = new Set(Object.keys(require.cache));

/** Modules loaded since the suite started, other than core's own (reducers load on demand). */
function newForeignModules(): string[] {
  return Object.keys(require.cache).filter(
    (m) => !modulesBefore.has(m) && m.startsWith("/") && m !== import.meta.path && !m.startsWith(CORE_SRC),
  );
}

/** `loads` must return or throw a PicklingError, and import nothing. */
function loadsSafely(bytes: Uint8Array): void {
  cases++;
  try {
    loads(bytes);
  } catch (err) {
    if (!(err instanceof PicklingError)) {
      throw new Error(`loads threw ${String(err)} on ${Bun.inspect(bytes)}`, { cause: err });
    }
    expect(err.message).toStartWith("Cannot load");
  }
  expect((globalThis as { fuzzBaitEvaluations?: number }).fuzzBaitEvaluations).toBeUndefined();
}

/** Bytes of a tree rooted at a `#root` marker, as JSON text or structured clone. */
function rootBytes(tree: unknown, json: boolean): Uint8Array | undefined {
  const root = { [MARK]: "#root", s: tree };
  if (!json) return serialize(root, { binaryType: "nodebuffer" });
  try {
    return encoder.encode(JSON.stringify(root));
  } catch {
    return undefined; // a bigint or a cycle: JSON cannot carry it
  }
}

const str = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom(BAIT, `${FIXTURES}/codec-exports.ts`, "double", "Point", "__proto__", MARK),
);
const leaf = fc.oneof(fc.constantFrom(null, undefined, 0, -0, Number.NaN, true), fc.integer(), str, fc.bigInt());

/** Trees of plain data in which markers of every tag hold states of every shape. */
const { tree } = fc.letrec<{ tree: unknown; marker: unknown; node: unknown }>((rec) => ({
  tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, rec("node"), rec("marker")),
  node: fc.oneof(
    fc.array(rec("tree"), { maxLength: 4 }),
    fc.dictionary(str, rec("tree"), { maxKeys: 4 }),
    fc.array(fc.tuple(rec("tree"), rec("tree")), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(rec("tree"), { maxLength: 3 }).map((a) => new Set(a)),
  ),
  marker: fc
    .tuple(
      fc.constantFrom(...TAGS),
      fc.oneof(
        rec("tree"),
        fc.tuple(str, str), // a function reference
        fc.tuple(str, str, rec("tree"), rec("tree")), // an instance
        fc.record(
          { name: rec("tree"), message: rec("tree"), stack: rec("tree"), fields: rec("tree") },
          { requiredKeys: [] },
        ),
      ),
    )
    .map(([tag, s]) => ({ [MARK]: tag, s })),
}));

/** Makes `tree` cyclic: the `pick`-th object found gets a field or item pointing back at an earlier one. */
function cyclify(tree: unknown, pick: number): unknown {
  const objects: object[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    objects.push(v);
    const children = v instanceof Map ? [...v.values()] : v instanceof Set ? [...v] : Object.values(v);
    for (const c of children) walk(c);
  };
  walk(tree);
  if (objects.length === 0) return tree;
  const at = objects[pick % objects.length]!;
  const target = objects[(pick * 7) % objects.length]!;
  if (at instanceof Map) at.set("cycle", target);
  else if (at instanceof Set) at.add(target);
  else if (Array.isArray(at)) at.push(target);
  else (at as Record<string, unknown>).cycle = target;
  return tree;
}

/** Sendable values that need the codec's markers: functions, classes, instances, errors, reducers. */
function specials(withErrors: boolean) {
  return fc.oneof(
    fc.constantFrom<unknown>(double, Point),
    // Fresh objects each time: cyclify mutates what it is given.
    fc.integer().map((n) => new Point(n, 4)),
    ...(withErrors
      ? [
          fc.string({ maxLength: 4 }).map((m) => new AppError(m, "ENOSPC")),
          fc.string({ maxLength: 4 }).map((m) => new RangeError(m)),
        ]
      : []),
    fc.integer().map((n) => new FuzzBox({ n })),
    fc
      .dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 3 })
      .map((o) => Object.assign(new Registry(), o)),
    fc.anything({ maxDepth: 1 }).map((x) => ({ [MARK]: x })), // a user object holding the marker key
  );
}

/** What structured clone carries, plus the codec's own extras. */
function sendableValues(withErrors: boolean) {
  return fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: false,
    key: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", MARK, "constructor", "s")),
    values: [fc.oneof(fc.anything({ maxDepth: 0, withBigInt: true }), specials(withErrors))],
  });
}
const sendable = sendableValues(true);

/**
 * `back` equals `v`: Bun.deepEquals (strict: -0, undefined fields, holes),
 * else the same bytes again: Bun.deepEquals misses Maps with object keys
 * (structuredClone fails it too) and does not end on cycles.
 */
function sameValue(back: unknown, v: unknown): boolean {
  // Bun.inspect repeats shared subtrees (exponential on the DAGs cyclify makes): only for trees.
  if (!hasCycle(v) && (Bun.deepEquals(back, v, true) || Bun.inspect(back) === Bun.inspect(v))) return true;
  const a = dumps(back);
  const b = dumps(v);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether `v` reaches itself; `done` holds objects already known to reach no cycle (shared references stay linear). */
function hasCycle(v: unknown, path = new Set<unknown>(), done = new Set<unknown>()): boolean {
  if (typeof v !== "object" || v === null || done.has(v)) return false;
  if (path.has(v)) return true;
  path.add(v);
  const children = v instanceof Map ? [...v.keys(), ...v.values()] : v instanceof Set ? [...v] : Object.values(v);
  const found = children.some((c) => hasCycle(c, path, done));
  path.delete(v);
  done.add(v);
  return found;
}

/** Replaces the `pick`-th node of a decoded tree by `by`. */
function replaceNode(tree: unknown, pick: number, by: unknown): unknown {
  let n = 0;
  const walk = (v: unknown): unknown => {
    if (n++ === pick) return by;
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [walk(k), walk(x)]));
    if (v instanceof Set) return new Set([...v].map(walk));
    if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(tree);
}

/** The decoded but not revived form of a payload (what the markers look like on the wire). */
function raw(bytes: Uint8Array): unknown {
  const { deserialize } = require("bun:jsc") as typeof import("bun:jsc");
  return bytes[0]! >= 0x20 ? JSON.parse(new TextDecoder().decode(bytes)) : deserialize(bytes);
}

describe("fuzz: loads() on bad input ends in a value or a PicklingError and imports nothing", () => {
  test("random bytes, JSON-looking or structured-clone-looking", () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array([14, 0, 0, 0, ...b])),
      fc.string({ maxLength: 40 }).map((s) => encoder.encode(`{"${MARK}":"#root","s":${s}`)),
    );
    fc.assert(fc.property(bytes, loadsSafely), { numRuns: 3000 });
  });

  test("markers of every tag with states of every shape, as JSON and as structured clone", () => {
    fc.assert(
      fc.property(tree, fc.boolean(), fc.option(fc.nat(), { nil: undefined }), (t, json, pick) => {
        const bytes = rootBytes(pick === undefined ? t : cyclify(t, pick), json);
        if (bytes !== undefined) loadsSafely(bytes);
      }),
      // No shrinking: cyclify mutates the generated value, and shrinking would feed it back grown.
      { numRuns: 3000, endOnFailure: true },
    );
  }, 60_000);

  const payload = fc.array(sendable, { minLength: 1, maxLength: 3 }).map((v) => dumps(v));
  test("payloads of dumps with one node replaced", () => {
    fc.assert(
      fc.property(payload, fc.nat(), tree, (bytes, pick, by) => {
        const wire = raw(bytes);
        const replaced = rootBytes(replaceNode(wire, pick % 40, by), bytes[0]! >= 0x20);
        if (replaced !== undefined) loadsSafely(replaced);
      }),
      { numRuns: 1500 },
    );
  }, 60_000);

  test("payloads of dumps with a byte flipped, or cut short", () => {
    fc.assert(
      fc.property(payload, fc.nat(), fc.integer({ min: 0, max: 255 }), (bytes, pick, byte) => {
        const flipped = bytes.slice();
        flipped[pick % flipped.length] = byte;
        loadsSafely(flipped);
        loadsSafely(bytes.subarray(0, pick % bytes.length));
      }),
      { numRuns: 1500 },
    );
  }, 60_000);

  test("nesting deeper than the stack, as JSON and as structured clone", () => {
    for (const depth of [1_000, 100_000]) {
      const json = `{"${MARK}":"#root","s":${'{"a":['.repeat(depth)}1${"]}".repeat(depth)}}`;
      loadsSafely(encoder.encode(json));
      let deep: unknown = 1;
      for (let i = 0; i < depth; i++) deep = [deep];
      let bytes: Uint8Array | undefined;
      try {
        bytes = rootBytes(deep, false);
      } catch {
        // structured clone refuses it itself
      }
      if (bytes !== undefined) loadsSafely(bytes);
    }
  });
});

describe("fuzz: dumps() then loads() gives the value back", () => {
  test("any sendable value, with functions, classes, instances, errors and library objects inside", () => {
    fc.assert(
      fc.property(sendable, (v) => {
        cases++;
        const back = loads(dumps(v));
        expect(sameValue(back, v)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Inputs the fuzzer found bugs with (#16), kept as they were shrunk. */
const HANG_BYTES =
  "DgAAAAIEAACAX19tcBAFAACAI3Jvb3QBAACAcwECAAAAAAAAAAL+////ABACAACAI2/+////AgL+////ABYGAAAAAAAAAAAAAAAAAAAAABUAAAAAAAAAAP7///8CAQgAAAAAAAAAC3bmNmPGbzNDAQAAAC8ABAAAACSrq+BHmGYPaLPDI3fDgr0vleLLc4RAYLHo5KuMu8h9AgAAAAtzeC1JcxozwwMAAAAvAAQAAAC7Uaayzcz7ow3G8bMSkxa4dv3pUH7jNVuW3+aJfXoMYQQAAAAQCAAAgCU6O3dlL35QBQAAAAsQ6IYraO4eQwYAAAALOFN7eeQDNkMHAAAALwAEAAAA0OW44za9Sxeq5CmYp6TDOCYFpqcCUu76K9s8i+unExL///////////////8BAAAAAQoAAAAAAAAALwAEAAAA932xsma0gS1OFg66/BG6g+rYpR83GtAZv265MmnqK08BAADqC2BasaVjeDHDAgAAAC8BBAAAAFcO0883Dq/w/q3/CR1DbHn0R/sJPw4FtDObXayO0wQuAwAAAAQEAAAALwAEAAAAWKWB38WyElTemX6XWztlLYs0TW0MJLxXeR6yi+brpFIFAAAALwEEAAAAkYXrUObKGA5BHxSuEFWVXo776Xwm+jgBrBqaX1nHLUAGAAAAEAgAAIArKWtxR0EqMwcAAAAvAAQAAAC1IAsUnf+goBMQgJ0NZlXLleFBYHS51ARhBEGq2ra1PggAAAALgMeDMCwW9EIJAAAALwEEAAAAOxLJgQYp+C811D3eFd9iKNKefveNVyQzOdOE2pnwjVT///////////////8=";

describe("fuzz regressions", () => {
  test("a function reference whose state is null (was a TypeError)", () => {
    expect(() => loads(encoder.encode('{"__mp":"#root","s":{"x":{"__mp":"#f","s":null}}}'))).toThrow(
      "Cannot load value.x: a function reference must be [module, name], two strings, got null",
    );
  });

  test("a reducer's rebuild failing on garbage state (was its TypeError)", () => {
    const bytes = encoder.encode('{"__mp":"#root","s":{"b":{"__mp":"fuzz.Box","s":["","",0,null]}}}');
    expect(() => loads(bytes)).toThrow('Cannot load value.b: the reducer "fuzz.Box" could not rebuild its object');
  });

  test("nesting deeper than the stack (was a RangeError)", () => {
    const json = `{"${MARK}":"#root","s":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    expect(() => loads(encoder.encode(json))).toThrow("Cannot load value: the payload nests too deeply");
  });

  test("an array whose flipped length byte says 2^32 - 1 items (was a hang)", () => {
    const bytes = Uint8Array.fromBase64(HANG_BYTES);
    loadsSafely(bytes);
  });

  test("no module was imported by any payload", () => {
    expect(newForeignModules()).toEqual([]);
  });
});
