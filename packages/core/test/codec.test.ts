/** The codec: round trips, reducers, values by reference, refusals with paths, a fresh process. */

import { describe, expect, test } from "bun:test";
import {
  allowImports,
  describeFunction,
  dumps,
  findExport,
  loads,
  rebuildError,
  registerReducer,
  resolveExport,
} from "../src/codec/index.ts";
import { PicklingError } from "../src/errors.ts";
import { AppError, double, Point, Registry } from "./fixtures/codec-exports.ts";
import { MarkedError, MarkedThing, marked } from "./fixtures/import-mark.ts";

const FIXTURES = `${import.meta.dir}/fixtures`;

/** Exported from the test file, which is Bun.main under `bun test`: found through the main module. */
export function fromMainModule(): string {
  return "main";
}

function roundTrip<T>(value: T): T {
  return loads(dumps(value)) as T;
}

function refusal(value: unknown, path = "args"): PicklingError {
  try {
    dumps(value, { path });
  } catch (err) {
    expect(err).toBeInstanceOf(PicklingError);
    return err as PicklingError;
  }
  throw new Error("dumps() accepted the value");
}

describe("dumps() / loads() round trips", () => {
  test("primitives, including the ones JSON loses", () => {
    const values = [0, -0, 1.5, NaN, Infinity, -Infinity, "", "é🎉", true, false, null, undefined];
    for (const v of values) expect(Object.is(roundTrip(v), v)).toBe(true);
    expect(roundTrip(2n ** 100n)).toBe(2n ** 100n);
    expect(roundTrip({ a: undefined, b: -0 })).toEqual({ a: undefined, b: -0 });
    expect(Object.hasOwn(roundTrip({ a: undefined }), "a")).toBe(true);
  });

  test("Date, RegExp, ArrayBuffer, typed arrays, DataView", () => {
    expect(roundTrip(new Date(1234))).toEqual(new Date(1234));
    const re = roundTrip(/a+b/gi);
    expect([re.source, re.flags]).toEqual(["a+b", "gi"]);
    expect(new Uint8Array(roundTrip(new Uint8Array([1, 2, 3]).buffer))).toEqual(new Uint8Array([1, 2, 3]));
    const typed = [
      new Int8Array([-1, 2]),
      new Uint8ClampedArray([255]),
      new Int16Array([-300]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5]),
      new Float64Array([Math.PI]),
      new BigInt64Array([-(2n ** 63n)]),
      new BigUint64Array([2n ** 64n - 1n]),
      new Float16Array([0.5]),
    ];
    for (const t of typed) expect(roundTrip(t)).toEqual(t);
    const view = roundTrip(new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2));
    expect([view.byteLength, view.getUint8(0)]).toEqual([2, 8]);
  });

  test("Map and Set, with object keys and nested values", () => {
    const key = { k: 1 };
    const m = roundTrip(
      new Map<unknown, unknown>([
        [key, new Set([1, "a", 3n])],
        ["s", { d: new Date(5) }],
      ]),
    );
    const [[k, set], [, nested]] = [...m] as [[{ k: number }, Set<unknown>], [string, unknown]];
    expect(k).toEqual({ k: 1 });
    expect([...set]).toEqual([1, "a", 3n]);
    expect(nested).toEqual({ d: new Date(5) });
  });

  test("nested plain objects, arrays with holes, null-prototype objects, odd keys", () => {
    const sparse = [1, 2, 3];
    delete sparse[1];
    const value = {
      a: [1, [2, [3, { deep: ["x"] }]]],
      sparse,
      bare: Object.assign(Object.create(null) as object, { x: 1 }),
      "odd key": 1,
      __mp: "looks like a marker",
      marker: { __mp: "#f", s: ["nope", "nope"] },
    };
    Object.defineProperty(value, "__proto__", { value: { own: true }, enumerable: true });
    const back = roundTrip(value);
    expect(back.a).toEqual(value.a);
    expect(1 in back.sparse).toBe(false);
    expect(back.sparse.length).toBe(3);
    expect(back.bare).toEqual({ x: 1 });
    expect(back.__mp).toBe("looks like a marker");
    expect(back.marker).toEqual({ __mp: "#f", s: ["nope", "nope"] });
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toEqual({ own: true });
  });

  test("cycles and shared references keep their shape", () => {
    const shared = { n: 1 };
    const root: Record<string, unknown> = { a: shared, b: [shared, shared] };
    root.self = root;
    const m = new Map<string, unknown>([["root", root]]);
    root.map = m;
    const back = roundTrip(root) as typeof root & { b: unknown[]; map: Map<string, unknown> };
    expect(back.self).toBe(back);
    expect(back.a).toBe(back.b[0]);
    expect(back.b[0]).toBe(back.b[1]);
    expect(back.map.get("root")).toBe(back);
  });

  test("a multi-megabyte string", () => {
    const big = "ab€𝄞".repeat(1 << 20); // 5 Mi UTF-16 units
    expect(roundTrip(big)).toBe(big);
    expect(roundTrip({ big, small: "x" }).big).toBe(big);
  });

  test("Errors keep their class, message, stack, cause and fields", () => {
    const err = new TypeError("bad input", { cause: new RangeError("too far") });
    Object.assign(err, { code: "E_BAD" });
    const back = roundTrip(err) as TypeError & { code: string };
    expect(back).toBeInstanceOf(TypeError);
    expect([back.message, back.code, back.stack]).toEqual(["bad input", "E_BAD", err.stack]);
    expect(back.cause).toBeInstanceOf(RangeError);
    const agg = roundTrip(new AggregateError([new Error("one")], "many"));
    expect(agg).toBeInstanceOf(AggregateError);
    expect((agg.errors[0] as Error).message).toBe("one");
    class LocalError extends Error {
      override name = "LocalError";
    }
    const local = roundTrip(new LocalError("not exported"));
    expect([local.name, local.message, local instanceof Error]).toEqual(["LocalError", "not exported", true]);
    const pe = roundTrip(new PicklingError("nope", "args[0]"));
    expect(pe).toBeInstanceOf(PicklingError);
    expect(pe.path).toBe("args[0]");
  });

  test("plain data travels as JSON text, everything else as structured clone", () => {
    expect(dumps({ id: 1, name: "x", tags: ["a"] })[0]).toBe("{".charCodeAt(0));
    expect(dumps({ at: new Date(0) })[0]).toBeLessThan(0x20);
    expect(dumps({ n: -0 })[0]).toBeLessThan(0x20);
  });
});

describe("registerReducer()", () => {
  class Handle {
    static rebuilt = 0;
    constructor(readonly id: number) {}
  }
  class SubHandle extends Handle {}
  class OwnHandle extends Handle {}
  registerReducer(Handle, {
    tag: "test.Handle",
    reduce: (h) => ({ id: h.id, when: new Date(h.id) }),
    rebuild: (state) => {
      Handle.rebuilt++;
      return new Handle((state as { id: number }).id);
    },
  });
  registerReducer(OwnHandle, {
    tag: "test.OwnHandle",
    reduce: (h) => h.id,
    rebuild: (id) => new OwnHandle((id as number) * 10),
  });

  test("an object travels as its reduced state and is rebuilt", () => {
    const h = new Handle(7);
    const back = roundTrip({ one: h, again: h, list: [h] });
    expect(back.one).toBeInstanceOf(Handle);
    expect(back.one.id).toBe(7);
    // One object sent twice is rebuilt once.
    expect(back.again).toBe(back.one);
    expect(back.list[0]).toBe(back.one);
  });

  test("a subclass uses its parent's reducer unless it has its own", () => {
    expect(roundTrip(new SubHandle(2))).toBeInstanceOf(Handle);
    const own = roundTrip(new OwnHandle(2));
    expect([own instanceof OwnHandle, own.id]).toEqual([true, 20]);
  });

  test("rejects a reserved, empty or taken tag", () => {
    const reducer = { reduce: () => 0, rebuild: () => new Handle(0) };
    expect(() => registerReducer(Handle, { ...reducer, tag: "#x" })).toThrow(TypeError);
    expect(() => registerReducer(Handle, { ...reducer, tag: "" })).toThrow(TypeError);
    expect(() => registerReducer(SubHandle, { ...reducer, tag: "test.Handle" })).toThrow(
      'Reducer tag "test.Handle" is already registered for class "Handle"',
    );
  });

  test("loads() names a tag nobody registered", () => {
    class Orphan {}
    registerReducer(Orphan, { tag: "test.Orphan", reduce: () => 1, rebuild: () => new Orphan() });
    const bytes = dumps(new Orphan());
    // Same payload with a tag of the same length that no one registered.
    const text = Buffer.from(bytes).toString("latin1").replace("test.Orphan", "test.Nobody");
    expect(() => loads(new Uint8Array(Buffer.from(text, "latin1")))).toThrow(
      'Cannot load value: no reducer is registered for tag "test.Nobody"; import the module that registers it',
    );
  });
});

describe("functions and classes by reference", () => {
  test("findExport() finds the module and name of an exported function", () => {
    expect(findExport(double)).toEqual({ module: `${FIXTURES}/codec-exports.ts`, name: "double" });
    expect(findExport(Point)).toEqual({ module: `${FIXTURES}/codec-exports.ts`, name: "Point" });
    expect(findExport(fromMainModule)).toEqual({ module: Bun.main, name: "fromMainModule" });
    expect(findExport(() => 1)).toBeUndefined();
  });

  test("resolveExport() imports the export, or says what is missing", () => {
    expect(resolveExport({ module: `${FIXTURES}/codec-exports.ts`, name: "double" })).toBe(double);
    expect(() => resolveExport({ module: `${FIXTURES}/codec-exports.ts`, name: "triple" })).toThrow(
      `Cannot load "triple": ${FIXTURES}/codec-exports.ts has no export named "triple"; the sender and receiver must run the same code`,
    );
    expect(() => resolveExport({ module: `${FIXTURES}/missing.ts`, name: "x" })).toThrow(PicklingError);
  });

  test("an exported function or class comes back as the same value", () => {
    const back = roundTrip({ fn: double, cls: Point, main: fromMainModule });
    expect(back.fn).toBe(double);
    expect(back.cls).toBe(Point);
    expect(back.main).toBe(fromMainModule);
  });

  test("an instance of an exported class is rebuilt without running its constructor", () => {
    const p = new Point(3, 4);
    const before = Point.constructed;
    const back = roundTrip({ p, again: p });
    expect(back.p).toBeInstanceOf(Point);
    expect([back.p.x, back.p.y, back.p.norm()]).toEqual([3, 4, 5]);
    expect(back.again).toBe(back.p);
    expect(Point.constructed).toBe(before);
    // A cycle through the instance, and the instance as a Map key.
    const q = Object.assign(new Point(1, 1), { self: undefined as unknown });
    q.self = q;
    const cyc = roundTrip(new Map([[q, "q"]]));
    const [key] = [...cyc.keys()];
    expect(key).toBeInstanceOf(Point);
    expect(key!.self).toBe(key);
  });

  test("an exported subclass of Map or Error keeps its contents and its class", () => {
    const reg = new Registry([["a", 1]]);
    reg.label = "mine";
    const back = roundTrip(reg);
    expect(back).toBeInstanceOf(Registry);
    expect([back.get("a"), back.label]).toEqual([1, "mine"]);
    const err = roundTrip(new AppError("disk full", "ENOSPC"));
    expect(err).toBeInstanceOf(AppError);
    expect([err.name, err.message, err.code]).toEqual(["AppError", "disk full", "ENOSPC"]);
  });
});

describe("dumps() refusals", () => {
  test("a closure, with the path of the argument", () => {
    const err = refusal([1, { handler: () => 1 }]);
    expect(err.path).toBe("args[1].handler");
    expect(err.message).toBe(
      'Cannot send args[1].handler: function "handler" is not exported from any module; export it from its module',
    );
  });

  test("functions are named as written: an arrow under a target key or without a name is <anonymous function>", () => {
    const opts = { target: () => 1, work: async (x: number) => x };
    expect(describeFunction(opts.target)).toBe("<anonymous function>");
    expect(describeFunction(opts.work)).toBe('function "work"');
    expect(describeFunction(function target() {})).toBe('function "target"');
    expect(describeFunction({ target() {} }.target)).toBe('function "target"');
    expect(describeFunction(class Job {})).toBe('class "Job"');
    expect(describeFunction([() => 0][0])).toBe("<anonymous function>");
    expect(refusal([[(x: number) => x]]).message).toBe(
      "Cannot send args[0][0]: <anonymous function> cannot be found by the receiver; give it a name and export it",
    );
  });

  test("an instance of a class that is not exported", () => {
    class Foo {}
    const err = refusal([new Foo()]);
    expect(err.path).toBe("args[0]");
    expect(err.message).toBe(
      'Cannot send args[0]: instance of class "Foo" whose class is not exported from any module; export the class, or send a plain object',
    );
  });

  test("a symbol, a Promise, a WeakMap, a Blob", () => {
    expect(refusal({ s: Symbol("id") }).message).toBe(
      "Cannot send args.s: a symbol (Symbol(id)) cannot be sent to another process; send a string instead",
    );
    expect(refusal([Promise.resolve(1)]).message).toBe(
      "Cannot send args[0]: a Promise cannot be sent to another process; await it and send the result",
    );
    expect(refusal({ w: new WeakMap() }).path).toBe("args.w");
    expect(refusal({ b: new Blob(["x"]) }).path).toBe("args.b");
  });

  test("paths inside Maps and Sets", () => {
    const fn = function inner() {};
    expect(refusal([{ map: new Map([["k", fn]]) }]).path).toBe('args[0].map.get("k")');
    expect(refusal(new Map([[1, { f: fn }]])).path).toBe("args.get(1).f");
    expect(refusal(new Map([[{}, fn]])).path).toBe("args.values()[0]");
    expect(refusal(new Map([[fn, 1]])).path).toBe("args.keys()[0]");
    expect(refusal({ "a b": new Set([1, fn]) }).path).toBe('args["a b"].values()[1]');
    expect(refusal({ e: Object.assign(new Error("x"), { fn }) }).path).toBe("args.e.fn");
  });

  test("a reducer's state is checked too, and a failing reducer is named", () => {
    class Wrapper {}
    registerReducer(Wrapper, { tag: "test.Wrapper", reduce: () => ({ cb: () => 1 }), rebuild: () => new Wrapper() });
    expect(refusal({ w: new Wrapper() }).path).toBe('args.w<reduced "test.Wrapper">.cb');
    class Broken {}
    registerReducer(Broken, {
      tag: "test.Broken",
      reduce: () => {
        throw new Error("no handle");
      },
      rebuild: () => new Broken(),
    });
    const err = refusal([new Broken()]);
    expect(err.message).toBe('Cannot send args[0]: the reducer "test.Broken" failed: no handle');
    expect((err.cause as Error).message).toBe("no handle");
  });

  test("default root name is value", () => {
    expect(() => dumps({ f: () => 1 })).toThrow('Cannot send value.f: function "f"');
  });

  test("a refused value leaves nothing half-done", () => {
    let reduced = 0;
    class Res {}
    registerReducer(Res, {
      tag: "test.Res",
      reduce: () => ++reduced,
      rebuild: () => new Res(),
    });
    const value = { res: new Res(), fn: double, list: [new Point(1, 2)], bad: { cb: () => 0 } };
    const snapshot = { ...value, list: [...value.list], bad: { ...value.bad } };
    expect(refusal(value).path).toBe("args.bad.cb");
    // No reducer ran, and the value was not touched.
    expect(reduced).toBe(0);
    expect(value).toEqual(snapshot);
    expect(Object.keys(value.list[0]!)).toEqual(["x", "y"]);
    value.bad.cb = undefined as unknown as () => number;
    const back = roundTrip(value);
    expect(back.res).toBeInstanceOf(Res);
    expect(reduced).toBe(1);
  });
});

describe("loads() errors", () => {
  test("empty or corrupt bytes", () => {
    expect(() => loads(new Uint8Array())).toThrow("Cannot load value: the payload is empty");
    expect(() => loads(new Uint8Array([14, 0, 0, 0, 99, 1]))).toThrow(PicklingError);
    expect(() => loads(new TextEncoder().encode("{nope"))).toThrow(PicklingError);
  });
});

describe("rebuildError()", () => {
  test("rebuilds a known class by name and keeps the remote stack", () => {
    const err = rebuildError({ name: "RangeError", message: "m", stack: "RangeError: m\n    at remote" });
    expect(err).toBeInstanceOf(RangeError);
    expect(err.stack).toBe("RangeError: m\n    at remote");
    const custom = rebuildError({ name: "CustomError", message: "c" });
    expect([custom.constructor, custom.name, custom.message]).toEqual([Error, "CustomError", "c"]);
  });
});

/** Runs fixtures/codec-load.ts in a fresh process on `bytes`; its JSON report. */
async function loadInFreshProcess(bytes: Uint8Array, mode: string): Promise<unknown> {
  const child = Bun.spawn([process.execPath, `${FIXTURES}/codec-load.ts`, mode], {
    stdin: bytes,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  expect(err).toBe("");
  expect(code).toBe(0);
  return JSON.parse(out);
}

const MARK_MODULE = `${FIXTURES}/import-mark.ts`;
const SENT_POINT = { fn: double, point: new Point(6, 8), when: new Date(0), ids: new Set([1, 2]) };
const POINT_REPORT = {
  fnName: "double",
  fnResult: 42,
  pointClass: "Point",
  pointConstructed: 0,
  norm: 10,
  when: "1970-01-01T00:00:00.000Z",
  ids: [1, 2],
};

describe("loads() in a fresh process: which modules a payload may name (#16)", () => {
  test("refuses a function of a module the receiver has not loaded, names its path, and does not run the module", async () => {
    expect(await loadInFreshProcess(dumps({ handler: { run: marked } }), "none")).toEqual({
      error: `Cannot load value.handler.run: the payload names function "marked" of ${MARK_MODULE}, a module this process has not loaded; import it in the receiver first, or call allowImports(${JSON.stringify(MARK_MODULE)})`,
      path: "value.handler.run",
      evaluated: 0,
    });
  });

  test("refuses an instance of a class of such a module; an error of such a class arrives rebuilt by name", async () => {
    const refused = (await loadInFreshProcess(dumps(new Map([["k", new MarkedThing()]])), "none")) as {
      path: string;
      evaluated: number;
    };
    expect([refused.path, refused.evaluated]).toEqual(['value.get("k")', 0]);
    const bytes = dumps([double, new Point(1, 1), new MarkedError("boom")]);
    expect(await loadInFreshProcess(bytes, "loaded")).toMatchObject({ error: "Error MarkedError", evaluated: 0 });
  });

  test("allowImports() lets the receiver import an allowed module", async () => {
    expect(await loadInFreshProcess(dumps([marked, new MarkedThing(), new MarkedError("boom")]), "allow")).toEqual({
      fnResult: 2,
      thing: "MarkedThing",
      error: "MarkedError MarkedError",
      evaluated: 1,
    });
  });

  test("loads(bytes, { imports: true }) imports the modules of exported functions and classes", async () => {
    expect(await loadInFreshProcess(dumps(SENT_POINT), "imports")).toEqual(POINT_REPORT);
  });

  test("a function or class of a module the receiver already loaded decodes", async () => {
    expect(await loadInFreshProcess(dumps(SENT_POINT), "loaded")).toEqual(POINT_REPORT);
  });
});

describe("allowImports()", () => {
  test("takes absolute paths and file: URLs, and refuses anything else", () => {
    expect(() => allowImports(MARK_MODULE, Bun.pathToFileURL(MARK_MODULE).href)).not.toThrow();
    expect(() => allowImports("./import-mark.ts")).toThrow(
      'allowImports() takes absolute module paths or file: URLs, got "./import-mark.ts"',
    );
  });
});
