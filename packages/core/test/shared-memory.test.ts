/**
 * Named shared memory (#21): SharedMemory, ShareableList, SharedMemoryManager
 * in one process, against processes this library did not start (a plain
 * `bun -e` script, python3), and the tracker that unlinks what a program
 * leaves when it ends, however it ends. Children of each backend are in the
 * conformance suite (conformance/shared-memory.ts).
 */
import { existsSync, readdirSync } from "node:fs";
import { afterEach, describe, expect, test } from "bun:test";
import { ShareableList, SharedMemory, SharedMemoryError, SharedMemoryManager } from "../src/index.ts";
import { alive, firstLine } from "./fixtures/child-processes.ts";

const LEAVER = new URL("./fixtures/programs/shm-leaver.ts", import.meta.url).pathname;
const TIMEOUT = 20_000;

/** Names this file made, each unlinked (if still there) after its test. */
const made: string[] = [];
const mine = (name: string): string => {
  made.push(name);
  return name;
};
const exists = (name: string): boolean => existsSync(`/dev/shm/${name}`);
/** /dev/shm entries now (other programs on the machine make some too: tests compare their own names). */
const shmNow = (): Set<string> => new Set(readdirSync("/dev/shm"));

afterEach(() => {
  for (const name of made.splice(0)) if (exists(name)) new SharedMemory({ name }).unlink();
});

/** Runs python3 code with `args`; stdout trimmed. Python < 3.13 has no `track`: the code unregisters itself. */
function python(code: string, ...args: string[]): { out: string; err: string; code: number | null } {
  const r = Bun.spawnSync(["python3", "-c", code, ...args], { stdout: "pipe", stderr: "pipe", timeout: TIMEOUT });
  return { out: r.stdout.toString().trim(), err: r.stderr.toString(), code: r.exitCode };
}
const hasPython = Bun.spawnSync(["python3", "-c", "import multiprocessing.shared_memory"]).exitCode === 0;
if (!hasPython)
  console.warn(
    "shared-memory.test.ts: python3 with multiprocessing.shared_memory is absent; its round trips are skipped",
  );
/** Python code that attaches without letting Python's tracker unlink the segment at its exit. */
const PY_ATTACH = `
import sys
from multiprocessing import shared_memory, resource_tracker
def attach(cls, name):
    if sys.version_info >= (3, 13) and cls is shared_memory.SharedMemory:
        return cls(name=name, track=False)
    obj = cls(name=name)
    shm = obj if cls is shared_memory.SharedMemory else obj.shm
    resource_tracker.unregister(shm._name, "shared_memory")
    return obj
`;

describe("SharedMemory in one process", () => {
  test("SharedMemory({ create, size }) gets a psm_ name; attaching by name shares buf", () => {
    const a = new SharedMemory({ create: true, size: 5000 });
    mine(a.name);
    expect(a.name).toMatch(/^psm_[0-9a-f]{8}$/);
    expect(a.size).toBe(5000);
    expect(a.buf).toBeInstanceOf(Uint8Array);
    expect(a.buf.length).toBe(5000);
    expect(exists(a.name)).toBe(true);
    a.buf.set([1, 2, 3], 4990);
    const b = new SharedMemory({ name: a.name, size: 0 });
    expect(b.size).toBe(5000);
    expect([...b.buf.subarray(4990, 4993)]).toEqual([1, 2, 3]);
    b.buf[0] = 200;
    expect(a.buf[0]).toBe(200);
    expect(String(a)).toBe(`SharedMemory('${a.name}', size=5000)`);
    b.close();
    a.unlink();
    expect(exists(a.name)).toBe(false);
    // The mapping outlives the name.
    expect(a.buf[0]).toBe(200);
    a.close();
  });

  test("SharedMemory({ name, create }) uses the given name", () => {
    const name = mine(`mpt_${process.pid}_given`);
    const shm = new SharedMemory({ name, create: true, size: 10 });
    expect(shm.name).toBe(name);
    expect(exists(name)).toBe(true);
    shm.close();
  });

  test("SharedMemory.close() detaches every view of buf; dispose closes and never unlinks", () => {
    let name = "";
    let view: Uint8Array;
    {
      using shm = new SharedMemory({ create: true, size: 64 });
      name = mine(shm.name);
      view = new Uint8Array(shm.buf.buffer, 8, 8);
      view[0] = 5;
    }
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(exists(name)).toBe(true);
    const again = new SharedMemory({ name });
    expect(again.buf[8]).toBe(5);
    again.close();
    again.close();
    expect(() => again.buf).toThrow(/is closed/);
  });

  test("SharedMemory errors: ENOENT, EEXIST, bad size, bad name, no name", () => {
    const missing = `mpt_${process.pid}_missing`;
    let err: unknown;
    try {
      new SharedMemory({ name: missing });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SharedMemoryError);
    expect((err as SharedMemoryError).code).toBe("ENOENT");
    expect((err as SharedMemoryError).message).toContain(missing);

    const shm = new SharedMemory({ create: true, size: 8 });
    mine(shm.name);
    expect(() => new SharedMemory({ name: shm.name, create: true, size: 8 })).toThrow(
      expect.objectContaining({ code: "EEXIST", message: expect.stringContaining(shm.name) }),
    );
    shm.unlink();
    expect(() => shm.unlink()).toThrow(expect.objectContaining({ code: "ENOENT" }));
    shm.close();

    for (const size of [0, -1, 1.5, Number.NaN, undefined]) {
      expect(() => new SharedMemory({ create: true, size })).toThrow(RangeError);
    }
    expect(() => new SharedMemory({ create: true, size: -5 })).toThrow("got -5");
    expect(() => new SharedMemory({ name: "a/b", create: true, size: 8 })).toThrow(RangeError);
    expect(() => new SharedMemory({ name: "a/b" })).toThrow('Invalid SharedMemory name "a/b": it contains "/"');
    expect(() => new SharedMemory({ name: "", create: true, size: 8 })).toThrow(RangeError);
    expect(() => new SharedMemory({ name: "x".repeat(300), create: true, size: 8 })).toThrow(/255 bytes/);
    expect(() => new SharedMemory({})).toThrow(TypeError);
    expect(() => new SharedMemory()).toThrow("needs the name");
  });
});

describe("ShareableList in one process", () => {
  test("ShareableList: get/set/negative indices/length/count/index/iteration and Python's format", () => {
    const data = new Uint8Array([1, 2, 3]);
    const sl = new ShareableList([1, 2.5, "héllo", data, null, true, false, 2n ** 62n, -7, ""]);
    mine(sl.shm.name);
    expect(sl.length).toBe(10);
    expect(sl.format).toBe("qd8s8sxxxxxx?xxxxxxxx?xxxxxxx?qq8s");
    expect([...sl]).toEqual([1, 2.5, "héllo", data, null, true, false, 2n ** 62n, -7, ""]);
    expect(sl.get(-1)).toBe("");
    expect(sl.get(-10)).toBe(1);
    expect(() => sl.get(10)).toThrow(RangeError);
    expect(() => sl.get(-11)).toThrow("out of range");
    sl.set(0, "1234567");
    expect(sl.get(0)).toBe("1234567");
    expect(sl.format.startsWith("8sd")).toBe(true);
    expect(() => sl.set(2, "123456789")).toThrow(RangeError);
    expect(() => sl.set(2, "123456789")).toThrow("exceeds the 8 bytes of slot 2");
    sl.set(-2, 7n);
    expect(sl.get(8)).toBe(7);
    sl.set(1, 7);
    expect(sl.count(7)).toBe(2);
    expect(sl.index(7)).toBe(1);
    expect(sl.index(new Uint8Array([1, 2, 3]))).toBe(3);
    expect(() => sl.index("absent")).toThrow(RangeError);
    expect(() => new ShareableList([undefined as unknown as null])).toThrow(TypeError);
    expect(() => new ShareableList([2n ** 64n])).toThrow(RangeError);
    const empty = new ShareableList();
    mine(empty.shm.name);
    expect(empty.length).toBe(0);
    expect(String(empty)).toBe(`ShareableList([], name='${empty.shm.name}')`);
  });

  test("ShareableList(null, { name }) attaches; a segment that is not a list is a RangeError", () => {
    const sl = new ShareableList(["a", 1]);
    mine(sl.shm.name);
    const again = new ShareableList(null, { name: sl.shm.name });
    again.set(1, 2);
    expect(sl.get(1)).toBe(2);
    const junk = new SharedMemory({ create: true, size: 16 });
    mine(junk.name);
    new DataView(junk.buf.buffer).setBigInt64(0, 1000n, true);
    expect(() => new ShareableList(null, { name: junk.name })).toThrow(/does not hold a ShareableList/);
  });
});

describe("SharedMemory across unrelated processes", () => {
  test("SharedMemory: a plain `bun -e` script attaches by name, reads ours and writes back", () => {
    const shm = new SharedMemory({ create: true, size: 4096 });
    mine(shm.name);
    shm.buf.set(new TextEncoder().encode("hello from multiproc"));
    const script = `
      const { dlopen } = require("bun:ffi");
      const fs = require("node:fs");
      const fd = fs.openSync("/dev/shm/" + process.argv[1], "r+");
      const got = Buffer.alloc(20);
      fs.readSync(fd, got, 0, 20, 0);
      fs.writeSync(fd, Buffer.from("bun was here"), 0, 12, 100);
      console.log(got.toString());
    `;
    const r = Bun.spawnSync([process.execPath, "-e", script, shm.name], { timeout: TIMEOUT });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe("hello from multiproc");
    expect(new TextDecoder().decode(shm.buf.subarray(100, 112))).toBe("bun was here");
  });

  test("SharedMemory: a `bun -e` script using @multiproc/core attaches by name and sees our bytes", () => {
    const shm = new SharedMemory({ create: true, size: 100 });
    mine(shm.name);
    shm.buf[10] = 77;
    const index = new URL("../src/index.ts", import.meta.url).pathname;
    const script = `
      const { SharedMemory } = await import(${JSON.stringify(index)});
      const s = new SharedMemory({ name: process.argv[1] });
      s.buf[11] = s.buf[10] + 1;
      console.log(s.size, s.buf[10]);
      s.close();
    `;
    const r = Bun.spawnSync([process.execPath, "-e", script, shm.name], { timeout: TIMEOUT });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe("100 77");
    expect(shm.buf[11]).toBe(78);
    expect(exists(shm.name)).toBe(true);
  });

  test.skipIf(!hasPython)("SharedMemory: python3 reads what we wrote, and we read what Python wrote", () => {
    const shm = new SharedMemory({ create: true, size: 256 });
    mine(shm.name);
    shm.buf.set([10, 20, 30]);
    const py = python(
      `${PY_ATTACH}
shm = attach(shared_memory.SharedMemory, sys.argv[1])
print(shm.size, bytes(shm.buf[:3]).hex())
shm.buf[3:6] = b"py!"
shm.close()`,
      shm.name,
    );
    expect(py.err).toBe("");
    // Python reports the file's size; ours is exact (Linux does not round).
    expect(py.out).toBe("256 0a141e");
    expect(new TextDecoder().decode(shm.buf.subarray(3, 6))).toBe("py!");

    const made = python(`${PY_ATTACH}
shm = shared_memory.SharedMemory(create=True, size=1000)
resource_tracker.unregister(shm._name, "shared_memory")
shm.buf[:5] = b"snake"
print(shm.name)
shm.close()`);
    expect(made.err).toBe("");
    const theirs = new SharedMemory({ name: mine(made.out) });
    expect(theirs.size).toBe(1000);
    expect(new TextDecoder().decode(theirs.buf.subarray(0, 5))).toBe("snake");
    theirs.unlink();
    theirs.close();
  });

  test.skipIf(!hasPython)("ShareableList: Python's ShareableList(name=...) reads ours, and we read Python's", () => {
    const sl = new ShareableList([42, 2.5, "héllo", new Uint8Array([1, 2]), null, true, -(2n ** 63n), "x".repeat(20)]);
    mine(sl.shm.name);
    const ourFormat = sl.format;
    expect(ourFormat).toBe("qd8s8sxxxxxx?xxxxxxxx?q24s");
    const py = python(
      `${PY_ATTACH}
import json
sl = attach(shared_memory.ShareableList, sys.argv[1])
print(json.dumps([repr(v) for v in sl]))
print(sl.format)
sl[0] = "set by python"[:7]
sl[-1] = 3.25
sl.shm.close()`,
      sl.shm.name,
    );
    expect(py.err).toBe("");
    const [items, format] = py.out.split("\n");
    expect(JSON.parse(items!)).toEqual([
      "42",
      "2.5",
      "'héllo'",
      "b'\\x01\\x02'",
      "None",
      "True",
      String(-(2n ** 63n)),
      `'${"x".repeat(20)}'`,
    ]);
    expect(format).toBe(ourFormat);
    expect(sl.format).toBe("8sd8s8sxxxxxx?xxxxxxxx?qd");
    expect(sl.get(0)).toBe("set by ");
    expect(sl.get(-1)).toBe(3.25);

    const theirs = python(`${PY_ATTACH}
sl = shared_memory.ShareableList([7, 1.5, "abc", b"\\x00ab", None, False, 2**62, ""])
resource_tracker.unregister(sl.shm._name, "shared_memory")
print(sl.shm.name, sl.format)
sl.shm.close()`);
    expect(theirs.err).toBe("");
    const [name, pyFormat] = theirs.out.split(" ");
    const ours = new ShareableList(null, { name: mine(name!) });
    expect(ours.format).toBe(pyFormat!);
    expect([...ours]).toEqual([7, 1.5, "abc", new Uint8Array([0, 97, 98]), null, false, 2n ** 62n, ""]);
    ours.shm.unlink();
  });
});

describe("SharedMemoryManager", () => {
  test("SharedMemoryManager: shutdown() unlinks what it made; use before start() or after shutdown throws", () => {
    const smm = new SharedMemoryManager();
    expect(() => smm.SharedMemory(10)).toThrow("call start() first");
    smm.start();
    expect(() => smm.start()).toThrow(/twice/);
    const shm = smm.SharedMemory(100);
    const sl = smm.ShareableList([1, "a"]);
    const early = smm.SharedMemory(10);
    early.unlink();
    expect(exists(shm.name) && exists(sl.shm.name)).toBe(true);
    expect(() => smm.SharedMemory(0)).toThrow(RangeError);
    smm.shutdown();
    expect(exists(shm.name) || exists(sl.shm.name)).toBe(false);
    // Mappings stay usable until closed.
    shm.buf[0] = 1;
    expect(sl.get(1)).toBe("a");
    expect(() => smm.ShareableList([1])).toThrow("shut down");
    smm.shutdown();
  });

  test("SharedMemoryManager: `using` shuts it down at the end of the block", () => {
    let name = "";
    {
      using smm = new SharedMemoryManager();
      smm.start();
      name = smm.SharedMemory(10).name;
      expect(exists(name)).toBe(true);
    }
    expect(exists(name)).toBe(false);
  });
});

/** Runs shm-leaver.ts in `mode`; returns its report, stderr and exit code once it (and its tracker) ended. */
async function leaver(mode: string, backend = "spawn") {
  const program = Bun.spawn([process.execPath, LEAVER, backend, mode], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => program.kill(9), TIMEOUT);
  const report = JSON.parse(await firstLine(program.stdout)) as {
    pid: number;
    names: string[];
    alive: string[];
    trackers: number[];
  };
  if (mode === "kill") program.kill(9);
  // stderr ends once the tracker, which shares it, has ended too.
  const stderr = await new Response(program.stderr).text();
  await program.exited;
  clearTimeout(timer);
  return { report, stderr, exitCode: program.exitCode, signal: program.signalCode };
}

async function gone(pids: number[], timeout = 10_000): Promise<number[]> {
  const deadline = performance.now() + timeout;
  while (pids.some(alive) && performance.now() < deadline) await Bun.sleep(20);
  return pids.filter(alive);
}

describe("SharedMemory track: the tracker unlinks what a program leaves", () => {
  for (const mode of ["exit", "throw", "kill"] as const) {
    const how = { exit: "ends normally", throw: "ends by an uncaught error", kill: "is SIGKILLed" }[mode];
    test(`SharedMemory track: a program that ${how} leaves 0 segments, with one warning naming them; its tracker ends`, async () => {
      const before = shmNow();
      const { report, stderr, exitCode, signal } = await leaver(mode);
      for (const name of report.names) mine(name);
      expect(report.names.length).toBe(2);
      expect(report.trackers.length).toBe(1);
      if (mode === "exit") expect(exitCode).toBe(0);
      if (mode === "throw") expect(exitCode).toBe(1);
      if (mode === "kill") expect(signal).toBe("SIGKILL");
      expect(report.names.filter(exists)).toEqual([]);
      expect([...shmNow()].filter((n) => !before.has(n) && report.names.includes(n))).toEqual([]);
      const warnings = stderr.split("\n").filter((line) => line.startsWith("multiproc: "));
      expect(warnings.length).toBe(1);
      for (const name of report.names) expect(warnings[0]).toContain(name);
      expect(await gone(report.trackers)).toEqual([]);
    });
  }

  test("SharedMemory track: false leaves the segments to the user, and starts no tracker", async () => {
    const { report, stderr, exitCode } = await leaver("untracked");
    for (const name of report.names) mine(name);
    expect(exitCode).toBe(0);
    expect(report.trackers).toEqual([]);
    expect(report.names.filter(exists)).toEqual(report.names);
    expect(stderr).not.toContain("multiproc: ");
  });

  test("SharedMemoryManager: a program that ends without shutdown() leaves 0 segments, and no warning", async () => {
    const { report, stderr, exitCode } = await leaver("manager");
    for (const name of report.names) mine(name);
    expect(exitCode).toBe(0);
    expect(report.names.filter(exists)).toEqual([]);
    expect(stderr).not.toContain("multiproc: ");
    expect(await gone(report.trackers)).toEqual([]);
  });
});
