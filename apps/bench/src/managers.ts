/**
 * Managers and `multiprocessing.connection`: a `Manager().dict()` set and get
 * (one round trip to the server process each, in the `Sync` form and
 * awaited), a Listener/Client round trip of a small object over TCP and over
 * a unix socket (an echo client in a child), and connections accepted per
 * second with an auth key (a child connects and closes in a loop; each accept
 * runs the HMAC handshake both ways). Ours with tinybench, CPython's
 * (managers.py) in the same run.
 */
import { type Connection, getContext, Listener, Manager, Pipe } from "@multiproc/core";
import { Bench } from "tinybench";
import { add, type Figure, makeBench, type RunOptions } from "./measure.ts";
import { runPythonScript } from "./python.ts";
import { connectMany, echoClient, rawEcho, rawReceive, rawSend } from "./targets.ts";

/** The workloads (the same strings in managers.py). */
export const WM = {
  dictSet: "Manager dict set, one round trip (d[k] = v)",
  dictGet: "Manager dict get, one round trip (d[k])",
  tcp: "Listener/Client round trip over TCP, small object",
  unix: "Listener/Client round trip over a unix socket, small object",
  accept: "Listener.accept with an authkey (connect + HMAC handshake both ways + close)",
  floor: "Raw round trip floor: 48 bytes over a unix socket pair, bare system calls, no framing or codec",
} as const;

const SMALL = { id: 1, name: "spam", tags: ["a", "b"] };
const KEY = "bench key";
/** Operations per tinybench iteration of the round trips (one round trip is a few µs: timer noise otherwise). */
const PER = 100;
/** Accepts per tinybench iteration. */
const ACCEPTS = 20;
const SCRIPT = new URL("./managers.py", import.meta.url).pathname;
const CHILD_MS = 30_000;

/**
 * Round trips before a measurement: tinybench's warm-up time is too short for
 * the JIT to settle a path this short (unwarmed, a Listener round trip
 * measured 100–150 µs; warmed, 18–23 µs; channels.ts warms its Pipe the same way).
 */
function warmUp(opts: RunOptions, op: () => void): void {
  for (let i = 0, n = opts.quick ? 3000 : 20_000; i < n; i++) op();
}

async function managerDict(opts: RunOptions): Promise<Figure[]> {
  await using m = await Manager();
  const d = await m.dict<string, unknown>();
  warmUp(opts, () => {
    d.setSync("k", SMALL);
    d.getSync("k");
  });
  for (let i = 0, n = opts.quick ? 1000 : 5000; i < n; i++) await d.get("k");
  const bench = makeBench(opts);
  const readers = [
    add(
      bench,
      WM.dictSet,
      "ours (Sync)",
      () => {
        for (let i = 0; i < PER; i++) d.setSync("k", SMALL);
      },
      PER,
    ),
    add(
      bench,
      WM.dictGet,
      "ours (Sync)",
      () => {
        for (let i = 0; i < PER; i++) d.getSync("k");
      },
      PER,
    ),
    add(
      bench,
      WM.dictSet,
      "ours (await)",
      async () => {
        for (let i = 0; i < PER; i++) await d.set("k", SMALL);
      },
      PER,
    ),
    add(
      bench,
      WM.dictGet,
      "ours (await)",
      async () => {
        for (let i = 0; i < PER; i++) await d.get("k");
      },
      PER,
    ),
  ];
  await bench.run();
  if (JSON.stringify(await d.get("k")) !== JSON.stringify(SMALL))
    throw new Error("Manager dict benchmark: wrong value");
  return readers.map((r) => r()).filter((f): f is Figure => f !== undefined);
}

async function roundTrip(opts: RunOptions, tcp: boolean): Promise<Figure[]> {
  using listener = new Listener(tcp ? { address: ["127.0.0.1", 0] } : {});
  const p = new (getContext("spawn").Process)({ target: echoClient, args: [listener.address] });
  p.start();
  let conn: Connection | undefined;
  try {
    conn = await listener.accept(CHILD_MS);
    const c = conn;
    warmUp(opts, () => {
      c.send(SMALL);
      c.recvSync();
    });
    const bench = makeBench(opts);
    const read = add(
      bench,
      tcp ? WM.tcp : WM.unix,
      "ours (Sync)",
      () => {
        for (let i = 0; i < PER; i++) {
          c.send(SMALL);
          c.recvSync();
        }
      },
      PER,
    );
    await bench.run();
    c.send(null);
    await p.join(CHILD_MS);
    return [read()].filter((f): f is Figure => f !== undefined);
  } finally {
    conn?.close();
    if (p.isAlive()) p.kill();
  }
}

async function accepts(opts: RunOptions): Promise<Figure[]> {
  using listener = new Listener({ address: ["127.0.0.1", 0], authkey: KEY });
  const iterations = opts.quick ? 3 : 10;
  const warmups = opts.quick ? 1 : 2;
  // Accepts before timing: both sides' handshake code is cold JavaScript at
  // first (the child is a fresh process); as for the round trips (`warmUp`),
  // tinybench's warm-up iterations are too few to settle it.
  const warm = opts.quick ? 100 : 400;
  const p = new (getContext("spawn").Process)({
    target: connectMany,
    args: [listener.address, KEY, (iterations + warmups + 2) * ACCEPTS + warm + 1],
  });
  p.start();
  try {
    listener.acceptSync(CHILD_MS).close(); // the child is up
    for (let i = 0; i < warm; i++) listener.acceptSync(CHILD_MS).close();
    // A fixed number of iterations: the child makes that many connections.
    const bench = new Bench({ time: 0, iterations, warmupTime: 0, warmupIterations: warmups });
    const read = add(
      bench,
      WM.accept,
      "ours (Sync)",
      () => {
        for (let i = 0; i < ACCEPTS; i++) listener.acceptSync(CHILD_MS).close();
      },
      ACCEPTS,
    );
    await bench.run();
    // The connections tinybench did not take.
    while (p.isAlive()) {
      try {
        listener.acceptSync(50).close();
      } catch {
        // none came: the child may be done
      }
    }
    return [read()].filter((f): f is Figure => f !== undefined);
  } finally {
    if (p.isAlive()) p.kill();
    await p.join(CHILD_MS);
  }
}

/**
 * The kernel's part of every round trip above (#20): 48 bytes to a forked
 * child and back with bare send/recv system calls through bun:ffi, spinning
 * as a Connection does; managers.py measures CPython's raw sockets, blocking.
 * No round trip of this library can be faster than this row.
 */
async function rawFloor(opts: RunOptions): Promise<Figure[]> {
  const [mine, theirs] = Pipe();
  const p = new (getContext("fork").Process)({ target: rawEcho, args: [theirs] });
  p.start();
  theirs.close();
  try {
    const fd = mine.fileno();
    const out = new Uint8Array(48).fill(1);
    const back = new Uint8Array(256);
    const op = () => {
      rawSend(fd, out);
      if (rawReceive(fd, back) !== out.byteLength) throw new Error("Raw floor benchmark: the echo was cut");
    };
    warmUp(opts, op);
    const bench = makeBench(opts);
    const read = add(
      bench,
      WM.floor,
      "ours (raw bun:ffi)",
      () => {
        for (let i = 0; i < PER; i++) op();
      },
      PER,
    );
    await bench.run();
    rawSend(fd, new Uint8Array(1)); // a 0 byte: the child stops
    await p.join(CHILD_MS);
    return [read()].filter((f): f is Figure => f !== undefined);
  } finally {
    mine.close();
    if (p.isAlive()) p.kill();
  }
}

/** Ours and CPython's figures of the manager and Listener/Client workloads. */
export async function runManagers(opts: RunOptions): Promise<Figure[]> {
  const figures = [
    ...(await managerDict(opts)),
    ...(await roundTrip(opts, true)),
    ...(await roundTrip(opts, false)),
    ...(await accepts(opts)),
    ...(await rawFloor(opts)),
  ];
  const python = runPythonScript<{ workload: string; system: string; medianMs: number }[]>(SCRIPT, [
    opts.quick ? "quick" : "full",
  ]);
  for (const f of python ?? []) figures.push({ ...f, opsPerSec: 1000 / f.medianMs });
  return figures;
}

if (import.meta.main) {
  const figures = await runManagers({ quick: Bun.argv.includes("--quick") });
  for (const w of Object.values(WM)) {
    const py = figures.find((f) => f.workload === w && f.system === "CPython");
    for (const f of figures.filter((g) => g.workload === w)) {
      const ratio = py === undefined ? "" : ` (${(py.medianMs / f.medianMs).toFixed(2)}× CPython)`;
      console.log(`${w} | ${f.system}: ${(f.medianMs * 1000).toFixed(1)} µs${ratio}`);
    }
  }
  process.exit(0);
}
