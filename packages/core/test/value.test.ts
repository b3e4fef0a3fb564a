import { describe, expect, test } from "bun:test";
import { getContext, Lock, RawValue, RLock, Value } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";
import { segmentFds } from "../src/arena/index.ts";
import { SharedValue, SynchronizedValue } from "../src/shared/index.ts";
import { collectGarbage, memfdMappings, openFds } from "./fixtures/os-resources.ts";

const VALID = "b B h H i I l L q Q f d c";

describe("Value (one process)", () => {
  test("Value() starts at the initial value, or 0, and keeps numbers and bigints apart", () => {
    expect(Value("i", 5).value).toBe(5);
    expect(Value("d").value).toBe(0);
    expect(Value("q").value).toBe(0n);
    expect(Value("q", 7).value).toBe(7n);
    expect(Value("Q", 2n ** 64n - 1n).value).toBe(2n ** 64n - 1n);
    expect(Value("L", 3n).value).toBe(3n);
    expect(Value("f", 0.1).value).toBeCloseTo(0.1, 6);
    expect(Value("c", "A").value).toBe(65);
    expect(Value("c", 200).value).toBe(200);
    expect(Value("i", 2n as unknown as number).value).toBe(2);
  });

  test("Value() refuses a bad typecode, naming the valid ones", () => {
    expect(() => Value("x" as "i", 1)).toThrow(TypeError);
    expect(() => Value("x" as "i", 1)).toThrow(`Bad typecode "x": must be one of ${VALID}`);
    expect(() => RawValue("u" as "i")).toThrow(VALID);
    expect(() => Value(3 as unknown as "i")).toThrow(VALID);
  });

  test("Value() refuses bad initial values, saying what the typecode accepts", () => {
    expect(() => Value("i", 1.5)).toThrow(
      'Bad initial value for typecode "i": expected an integer from -2147483648 to 2147483647, got 1.5',
    );
    expect(() => Value("b", 128)).toThrow(RangeError);
    expect(() => Value("B", -1)).toThrow(/from 0 to 255/);
    expect(() => Value("I", 2 ** 32)).toThrow(RangeError);
    expect(() => Value("i", "3" as unknown as number)).toThrow(TypeError);
    expect(() => Value("d", 1n as unknown as number)).toThrow(/expected a number/);
    expect(() => Value("q", 2 ** 60)).toThrow(/safe integer/);
    expect(() => Value("Q", -1n)).toThrow(RangeError);
    expect(() => Value("c", "ab")).toThrow(/one-byte string/);
    expect(() => Value("c", "é")).toThrow(TypeError); // two bytes in UTF-8
    expect(() => Value("i", {} as unknown as number)).toThrow(/got an object/);
  });

  test("Value.value set: checks the type, then wraps like C", () => {
    const v = RawValue("b", 0);
    v.value = 130;
    expect(v.value).toBe(-126);
    expect(() => {
      v.value = "1" as unknown as number;
    }).toThrow(TypeError);
    const q = RawValue("q", 0n);
    q.value = 5n;
    q.value = 6 as unknown as bigint;
    expect(q.value).toBe(6n);
    expect(() => {
      q.value = 1.5 as unknown as bigint;
    }).toThrow(TypeError);
  });

  test("Value's lock option: an RLock by default, false for a raw value, or the given lock", () => {
    const v = Value("i", 0);
    expect(v).toBeInstanceOf(SynchronizedValue);
    expect(v.getLock().constructor.name).toBe("RLock");
    // An RLock, as in Python: the value can be read while its lock is held.
    v.getLock().acquireSync();
    v.value += 1;
    v.getLock().release();
    expect(v.value).toBe(1);
    const raw = Value("i", 0, { lock: false });
    expect(raw).toBeInstanceOf(SharedValue);
    expect(raw).not.toBeInstanceOf(SynchronizedValue);
    expect("getLock" in raw).toBe(false);
    const lock = Lock();
    expect(Value("i", 0, { lock }).getLock()).toBe(lock);
    const rlock = RLock();
    expect(Value("i", 0, { lock: rlock }).getLock()).toBe(rlock);
    expect(() => Value("i", 0, { lock: "yes" as unknown as boolean })).toThrow(
      /must be true, false, a Lock or an RLock/,
    );
  });

  test("Value's acquire/release and holdSync guard its lock", async () => {
    const v = Value("i", 0);
    {
      using _ = v.holdSync();
      v.value = 3;
      expect(v.getLock().acquireSync({ block: false })).toBe(true); // re-entry: an RLock
      v.getLock().release();
    }
    expect(await v.acquire()).toBe(true);
    v.release();
    expect(v.acquireSync({ block: false })).toBe(true);
    v.release();
    expect(v.getObj().value).toBe(3);
    expect(String(v)).toBe('Value("i", 3)');
    expect(String(RawValue("d", 1.5))).toBe('RawValue("d", 1.5)');
  });

  test("Value travels through the codec to the same memory and lock", () => {
    const v = Value("d", 1.25);
    const raw = RawValue("Q", 9n);
    const [v2, raw2] = loads(dumps([v, raw])) as [typeof v, typeof raw];
    expect(v2).toBeInstanceOf(SynchronizedValue);
    expect(raw2).toBeInstanceOf(SharedValue);
    v2.value = 2.5;
    raw2.value = 10n;
    expect(v.value).toBe(2.5);
    expect(raw.value).toBe(10n);
    v.getLock().acquireSync();
    expect(v2.getLock().acquireSync({ block: false })).toBe(true); // same thread: re-entry of the same RLock
    v2.getLock().release();
    v.getLock().release();
  });

  test("ten thousand Values cost no new mapping or descriptor per Value (the arena)", () => {
    const fds = openFds;
    const maps = memfdMappings;
    const mp = getContext();
    mp.Value("i", 0); // start from a fresh segment's worth of room
    const before = { fds: fds(), maps: maps(), segments: segmentFds().length };
    const values = Array.from({ length: 10_000 }, (_, i) => mp.Value("i", i));
    const after = { fds: fds(), maps: maps(), segments: segmentFds().length };
    // 10,000 x (a 16-byte value + a 16-byte RLock) fits in one 1 MiB segment; allow one more.
    expect(after.segments - before.segments).toBeLessThanOrEqual(1);
    expect(after.fds - before.fds).toBeLessThanOrEqual(1);
    expect(after.maps - before.maps).toBeLessThanOrEqual(1);
    expect(values[9_999]!.value).toBe(9_999);
  });
});

describe("blocks handed out again", () => {
  const collect = () => collectGarbage(3, 10);

  test("Values and Locks made and dropped in batches do not grow the arena", async () => {
    const mp = getContext();
    mp.Value("i", 0);
    await collect();
    const before = memfdMappings();
    // 20 batches x 10 000 x (a Value and its RLock, about 64 bytes): 12 MiB without reuse.
    for (let batch = 0; batch < 20; batch++) {
      const made = Array.from({ length: 10_000 }, (_, i) => mp.Value("i", i));
      const locks = Array.from({ length: 1_000 }, () => mp.Lock());
      expect(made[9_999]!.value).toBe(9_999);
      expect(locks[999]!.acquireSync({ block: false })).toBe(true);
      made.length = 0;
      locks.length = 0;
      await collect();
    }
    expect(memfdMappings() - before).toBeLessThanOrEqual(2);
  });

  test("a reused block starts zeroed, and one whose handle was made is never handed out again", async () => {
    const mp = getContext();
    const sent = dumps(mp.RawValue("i", 42)); // a handle exists: another process may still use it
    for (let round = 0; round < 3; round++) {
      const fresh = Array.from({ length: 20_000 }, () => mp.RawValue("i"));
      expect(fresh.every((v) => v.value === 0)).toBe(true);
      for (const v of fresh) v.value = -1;
      fresh.length = 0;
      await collect();
    }
    expect((loads(sent) as SharedValue<number>).value).toBe(42);
  });
});
