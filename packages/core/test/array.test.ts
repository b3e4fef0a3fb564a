import { describe, expect, test } from "bun:test";
import { Lock, RawArray, SharedArray } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";
import { isSharedArray } from "../src/shared/index.ts";
import { collectGarbage, memfdMappings, openFds } from "./fixtures/os-resources.ts";

describe("SharedArray / RawArray (one process)", () => {
  test("SharedArray() returns the typecode's typed array, zero-filled or from values", () => {
    const cases = [
      ["b", Int8Array],
      ["B", Uint8Array],
      ["h", Int16Array],
      ["H", Uint16Array],
      ["i", Int32Array],
      ["I", Uint32Array],
      ["l", BigInt64Array],
      ["L", BigUint64Array],
      ["q", BigInt64Array],
      ["Q", BigUint64Array],
      ["f", Float32Array],
      ["d", Float64Array],
      ["c", Uint8Array],
    ] as const;
    for (const [code, ctor] of cases) {
      const a = SharedArray(code, 3);
      expect(a).toBeInstanceOf(ctor);
      expect(a.length).toBe(3);
      expect(isSharedArray(a)).toBe(true);
    }
    const d = SharedArray("d", [1.5, 2.5]);
    d[0]! += 1;
    expect(Array.from(d)).toEqual([2.5, 2.5]);
    expect(d as Float64Array).toEqual(new Float64Array([2.5, 2.5]));
    expect(Array.from(SharedArray("q", [1, 2n]))).toEqual([1n, 2n]);
    expect(Array.from(SharedArray("i", new Set([4, 5])))).toEqual([4, 5]);
    expect(SharedArray("i", 0).length).toBe(0);
  });

  test('SharedArray("c", string) holds the string\'s UTF-8 bytes', () => {
    const c = SharedArray("c", "héllo");
    expect(Array.from(c)).toEqual([104, 195, 169, 108, 108, 111]);
    expect(Buffer.from(c).toString("utf8")).toBe("héllo");
    expect(() => SharedArray("i", "abc")).toThrow(/Only a typecode "c" Array is initialised from a string/);
  });

  test("SharedArray() refuses bad typecodes, sizes and values, naming what is valid", () => {
    expect(() => SharedArray("z" as "i", 3)).toThrow("must be one of b B h H i I l L q Q f d c");
    expect(() => RawArray("i", -1)).toThrow(RangeError);
    expect(() => RawArray("i", 1.5)).toThrow(/size must be an integer >= 0/);
    expect(() => SharedArray("b", [1, 200])).toThrow(
      'Bad values[1] for typecode "b": expected an integer from -128 to 127, got 200',
    );
    expect(() => SharedArray("d", [1, "2" as unknown as number])).toThrow(TypeError);
    expect(() => SharedArray("i", null as unknown as number)).toThrow(TypeError);
  });

  test("SharedArray has getLock() (an RLock by default, or the given lock); RawArray has none", () => {
    const a = SharedArray("i", 2);
    expect(a.getLock().constructor.name).toBe("RLock");
    const lock = Lock();
    expect(SharedArray("i", 2, { lock }).getLock()).toBe(lock);
    const raw = RawArray("i", 2);
    expect("getLock" in raw).toBe(false);
    expect("getLock" in SharedArray("i", 2, { lock: false })).toBe(false);
    // getLock is not an element: it does not show in keys or JSON.
    expect(Object.keys(a)).toEqual(["0", "1"]);
    expect(JSON.stringify(a)).toBe('{"0":0,"1":0}');
  });

  test("slice() and map() of a shared array are plain private copies", () => {
    const a = SharedArray("i", [1, 2, 3]);
    const s = a.slice(1);
    expect(s.constructor).toBe(Int32Array);
    expect(isSharedArray(s)).toBe(false);
    s[0] = 99;
    expect(a[1]).toBe(2);
    expect(a.map((x) => x * 2).constructor).toBe(Int32Array);
  });

  test("a shared array travels through the codec to the same memory", () => {
    const a = SharedArray("d", [1, 2]);
    const raw = RawArray("Q", [5n]);
    const plain = new Float64Array([7]);
    const [a2, raw2, plain2] = loads(dumps([a, raw, plain])) as [typeof a, typeof raw, Float64Array];
    expect(a2).toBeInstanceOf(Float64Array);
    a2[1] = 42;
    raw2[0] = 6n;
    expect(a[1]).toBe(42);
    expect(raw[0]).toBe(6n);
    expect(typeof a2.getLock).toBe("function");
    // A plain typed array is still copied.
    plain2[0] = 8;
    expect(plain[0]).toBe(7);
    expect(isSharedArray(plain2)).toBe(false);
  });
});

describe("large Arrays (a segment of their own)", () => {
  /** Collects until `done()` holds, at most 2 s. */
  const collectUntil = (done: () => boolean) => collectGarbage(40, 50, done);

  test("one that never left this process is unmapped and its descriptor closed once garbage", async () => {
    const before = { fds: openFds(), maps: memfdMappings() };
    for (let i = 0; i < 40; i++) {
      const a = RawArray("d", 100_000); // 800 kB: over the 256 KiB a block may take from the arena
      a[i] = i;
      expect(a[i]).toBe(i);
    }
    expect(memfdMappings()).toBeGreaterThan(before.maps);
    await collectUntil(() => memfdMappings() <= before.maps + 1 && openFds() <= before.fds + 1);
    expect(memfdMappings()).toBeLessThanOrEqual(before.maps + 1);
    expect(openFds()).toBeLessThanOrEqual(before.fds + 1);
  });

  test("a view that outlives the Array keeps the memory; a sent one is kept for good", async () => {
    await collectUntil(() => false); // what earlier tests left goes first
    const baseline = memfdMappings();
    // Views of ten large Arrays, which themselves become garbage at once.
    const views = Array.from({ length: 10 }, (_, i) => {
      const sub = RawArray("d", 100_000).subarray(10, 20);
      sub[0] = i;
      return sub;
    });
    const sent = dumps(RawArray("d", 100_000)); // a handle exists: another process may map it any time
    expect(memfdMappings()).toBe(baseline + 11);
    await collectGarbage(5, 20);
    // Still mapped (reading an unmapped one would crash the process).
    expect(views.map((v) => v[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(memfdMappings()).toBe(baseline + 11);
    views.length = 0;
    // The views' memory goes once they are garbage (one may linger: the
    // collector also keeps what a stale stack slot points to); the sent one stays.
    await collectUntil(() => memfdMappings() <= baseline + 1);
    expect(memfdMappings()).toBeLessThanOrEqual(baseline + 2);
    const back = loads(sent) as Float64Array;
    back[1] = 3;
    expect(back[1]).toBe(3);
    expect(memfdMappings()).toBeGreaterThanOrEqual(baseline + 1);
  });
});

describe("small Arrays (blocks of the arena) handed out again", () => {
  const collect = () => collectGarbage(3, 10);

  test("Arrays made and dropped in batches do not grow the arena", async () => {
    RawArray("d", 64);
    await collect();
    const before = memfdMappings();
    // 20 batches x 2 000 x 512 bytes: 20 MiB (20 segments) without reuse.
    for (let batch = 0; batch < 20; batch++) {
      const made = Array.from({ length: 2_000 }, (_, i) => RawArray("d", 64).fill(i));
      expect(made[1_999]![63]).toBe(1_999);
      made.length = 0;
      await collect();
    }
    expect(memfdMappings() - before).toBeLessThanOrEqual(2);
  });

  test("a subarray that outlives its Array keeps the block; a sent Array's is never handed out again", async () => {
    const views = Array.from({ length: 100 }, (_, i) => RawArray("i", 32).fill(i).subarray(8, 16));
    const sent = RawArray("i", 32).fill(42);
    const bytes = dumps(sent); // a handle exists: another process may still use it
    for (let round = 0; round < 3; round++) {
      const fresh = Array.from({ length: 5_000 }, () => RawArray("i", 32));
      expect(fresh.every((a) => a.every((x) => x === 0))).toBe(true); // a reused block starts zeroed
      for (const a of fresh) a.fill(-1);
      fresh.length = 0;
      await collect();
    }
    expect(views.map((v) => v[7])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(loads(bytes) as Int32Array)).toEqual(new Array(32).fill(42));
  });
});
