import { describe, expect, test } from "bun:test";
import { ProcessError } from "../src/index.ts";
import type { PoolCore } from "../src/pool/pool-core.ts";
import { type WorkerSetup, workerLoop } from "../src/pool/pool-worker.ts";
import { onReply } from "../src/pool/scheduler.ts";
import {
  bootstrapSchema,
  decodeStart,
  encodeStart,
  INITIALIZER_FAILED,
  isBootstrap,
  isReply,
  isTask,
  Kind,
  parseBootstrap,
  parsePrepare,
  parseReply,
  parseTask,
  parseWorkerStart,
  replySchema,
  taskSchema,
} from "../src/protocol/index.ts";

const good = {
  type: "bootstrap",
  version: 1,
  backend: "spawn",
  name: "Process-1",
  daemon: false,
  identity: [1],
  parent: { pid: 1, name: "MainProcess" },
  cls: null,
  target: { module: "/app/main.ts", name: "work" },
  argv: ["/usr/bin/bun", "/app/main.ts", "--verbose"],
  authkey: new Uint8Array(32),
  args: new Uint8Array(),
  fields: new Uint8Array(),
};

describe("protocol: bootstrap", () => {
  test("parseBootstrap() accepts a sound message", () => {
    expect(parseBootstrap(good).name).toBe("Process-1");
  });

  test("parseBootstrap() names the bad field of a malformed message", () => {
    expect(() => parseBootstrap({ ...good, daemon: "yes" })).toThrow(ProcessError);
    expect(() => parseBootstrap({ ...good, daemon: "yes" })).toThrow(/Malformed bootstrap message: daemon:/);
    expect(() => parseBootstrap({ ...good, target: { module: "", name: "x" } })).toThrow(/target\.module/);
    expect(() => parseBootstrap({ ...good, backend: "thread" })).toThrow(/backend/);
    expect(() => parseBootstrap("garbage")).toThrow(/Malformed bootstrap message/);
    expect(() => parseBootstrap({ ...good, version: 2 })).toThrow(/version/);
  });
});

describe("protocol: isBootstrap agrees with the zod schema", () => {
  // isBootstrap is the fast path; the schema is the contract. Mutate every
  // field of a sound message in many ways and require the same verdict.
  const variants: unknown[] = [
    undefined,
    null,
    0,
    -1,
    1.5,
    2,
    "",
    "x",
    true,
    [],
    {},
    [0],
    [1, 2],
    ["a", "b"],
    ["a", 1],
    new Uint8Array(1),
    { module: "m", name: "n" },
    { module: "", name: "n" },
    { pid: 3, name: "p" },
    { pid: 0, name: "p" },
    "bootstrap",
    "spawn",
    "fork",
    "thread",
  ];
  test("isBootstrap() === bootstrapSchema().safeParse().success for every one-field mutation", () => {
    expect(isBootstrap(good)).toBe(true);
    for (const key of Object.keys(good)) {
      for (const v of variants) {
        const m = { ...good, [key]: v };
        expect([key, v, isBootstrap(m)]).toEqual([key, v, bootstrapSchema().safeParse(m).success]);
      }
      const { [key]: _dropped, ...missing } = good as Record<string, unknown>;
      expect(isBootstrap(missing)).toBe(bootstrapSchema().safeParse(missing).success);
    }
  });
});

describe("protocol: task and reply", () => {
  const ref = { module: "/app/work.ts", name: "square" };

  test("parseTask() accepts a task, a packed chunk and the stop message; names the bad field of a malformed one", () => {
    expect(parseTask([3, ref, Kind.MAP, [1, 2]])).toEqual([3, ref, Kind.MAP, [1, 2]]);
    expect(parseTask([3, 0, Kind.APPLY, new Float64Array(2)])?.[0]).toBe(3);
    expect(parseTask(null)).toBeNull();
    expect(() => parseTask([3, ref, 7, []])).toThrow(ProcessError);
    expect(() => parseTask([3, ref, 7, []])).toThrow(/^Malformed task message: 2: /);
    expect(() => parseTask([3, { module: "", name: "f" }, Kind.MAP, []])).toThrow(/^Malformed task message: 1/);
    expect(() => parseTask({ id: 3 })).toThrow(/^Malformed task message: \(message\): /);
  });

  test("parseReply() accepts a reply; names the bad field of a malformed one", () => {
    expect(parseReply([4, true, { any: "value" }, 0.5])).toEqual([4, true, { any: "value" }, 0.5]);
    expect(parseReply([INITIALIZER_FAILED, false, new Error("x"), 0])[0]).toBe(INITIALIZER_FAILED);
    expect(() => parseReply([4, "yes", 1, 0.5])).toThrow(/^Malformed task reply message: 1: /);
    expect(() => parseReply([4, true, 1, "0.5"])).toThrow(/^Malformed task reply message: 3: /);
    expect(() => parseReply([1.5, true, 1, 0])).toThrow(/^Malformed task reply message: 0: /);
  });

  test("isTask()/isReply() agree with their zod schemas on one-element mutations", () => {
    const task: unknown[] = [3, ref, Kind.MAP, [1]];
    const reply: unknown[] = [4, true, null, 1];
    const variants = [undefined, null, -2, -1, 0, 1.5, "1", true, [], {}, ref, new Float64Array(1)];
    for (const [message, is, schema] of [
      [task, isTask, taskSchema],
      [reply, isReply, replySchema],
    ] as const) {
      for (let i = 0; i < message.length; i++) {
        for (const v of variants) {
          const m = message.with(i, v);
          expect([i, v, is(m)]).toEqual([i, v, schema().safeParse(m).success]);
        }
      }
      expect(is(message.slice(1))).toBe(false);
    }
  });

  test("onReply(): a malformed reply fails the job it names with the bad field, never the pool's driver", async () => {
    const settled: Array<[boolean, unknown]> = [];
    const worker = { inFlight: [] as unknown[] };
    const job = { id: 7, worker, done: false, settle: (ok: boolean, v: unknown) => settled.push([ok, v]) };
    worker.inFlight.push(job);
    const core = { running: new Map([[7, job]]), watched: new Set(), taskMs: 1 } as unknown as PoolCore;
    expect(() => onReply(core, [7, "yes", 1, 2])).not.toThrow();
    expect(settled).toHaveLength(1);
    expect(settled[0]![0]).toBe(false);
    expect(settled[0]![1]).toBeInstanceOf(ProcessError);
    expect(String(settled[0]![1])).toMatch(/Malformed task reply message: 1: /);
    expect(core.running.size).toBe(0);
    expect(worker.inFlight).toEqual([]);
    // One that names no running job is a warning, not a throw.
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      expect(() => onReply(core, { not: "a reply" })).not.toThrow();
      await Bun.sleep(0);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^Malformed task reply message: /)]);
  });
});

describe("protocol: a Pool worker's malformed task", () => {
  test("workerLoop() answers a malformed task as that task's error naming the field, and goes on", async () => {
    const tasks: unknown[] = [[5, { module: "/app/work.ts", name: "f" }, 9, []], [6, 0, Kind.APPLY, [2, 3]], null];
    const replies: unknown[] = [];
    const setup = {
      tasks: { getSync: () => tasks.shift() },
      results: { putSync: (reply: unknown) => replies.push(reply) },
      initializer: null,
      initargs: [],
      maxTasks: 0,
    } as unknown as WorkerSetup;
    await workerLoop(setup, [(a: unknown, b: unknown) => (a as number) * (b as number)]);
    expect(replies).toHaveLength(2);
    const [id, ok, error] = replies[0] as [number, boolean, Error];
    expect([id, ok]).toEqual([5, false]);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error.message).toMatch(/^Malformed task message: 2: /);
    expect((replies[1] as unknown[]).slice(0, 3)).toEqual([6, true, 6]);
  });
});

describe("protocol: start (spawn) and control (worker)", () => {
  const header = { cwd: "/app", env: { HOME: "/root" }, fds: 2 };

  test("decodeStart() reads what encodeStart() wrote", () => {
    const bootstrap = new Uint8Array([1, 2, 3]);
    const out = decodeStart(encodeStart(header, bootstrap));
    expect(out.header).toEqual(header);
    expect([...out.bootstrap]).toEqual([1, 2, 3]);
  });

  test("decodeStart() names what is wrong: a short buffer, a length past the end, bad JSON, a bad field", () => {
    expect(() => decodeStart(new Uint8Array(2))).toThrow(/^Malformed start message: 2 bytes/);
    const long = encodeStart(header, new Uint8Array());
    new DataView(long.buffer).setUint32(0, 1000, true);
    expect(() => decodeStart(long)).toThrow(/^Malformed start message: header length 1000 past its/);
    const bad = new Uint8Array([3, 0, 0, 0, ...new TextEncoder().encode("{x:")]);
    expect(() => decodeStart(bad)).toThrow(/^Malformed start message: header: /);
    for (const [field, value] of [
      ["fds", -1],
      ["cwd", 3],
      ["env", { HOME: 1 }],
    ] as const) {
      const message = encodeStart({ ...header, [field]: value } as unknown as typeof header, new Uint8Array());
      expect(() => decodeStart(message)).toThrow(ProcessError);
      expect(() => decodeStart(message)).toThrow(new RegExp(`^Malformed start message: ${field}`));
    }
  });

  test("parsePrepare()/parseWorkerStart() name the bad field of a Worker's malformed message", () => {
    const words = new Int32Array(new SharedArrayBuffer(16));
    expect(parsePrepare({ control: words, arena: words }).control).toBe(words);
    expect(() => parsePrepare({ control: new Int32Array(4), arena: words })).toThrow(
      /^Malformed prepare message: control: expected an Int32Array over a SharedArrayBuffer/,
    );
    const start = { bootstrap: new Uint8Array(), fds: [5], env: { A: "1" } };
    expect(parseWorkerStart(start)).toBe(start);
    expect(() => parseWorkerStart({ ...start, fds: [-1] })).toThrow(/^Malformed worker start message: fds\.0: /);
    expect(() => parseWorkerStart({ ...start, env: { A: 1 } })).toThrow(/^Malformed worker start message: env\.A: /);
    expect(() => parseWorkerStart({ ...start, bootstrap: "x" })).toThrow(
      /^Malformed worker start message: bootstrap: /,
    );
  });
});
