/**
 * `bun src/pipe-faults.ts [--quick] [--json]` (issue #18 point 12): minor page
 * faults and time per Pipe round trip of a 64 KiB and a 16 MiB message, a
 * child echoing it, raw (sendBytes / recvBytes) and as an object (send / recv
 * of a Uint8Array, as the Pipe rows of channels.ts), on the fork and spawn
 * backends, against CPython's multiprocessing (fork, spawn) in the same run.
 * Faults are the parent's and the child's together (each counts its own with
 * getrusage): the steadier figure on a loaded machine, where each fresh 4 KiB
 * page of a large message costs ~14 µs.
 */
import { type Connection, getContext } from "@multiproc/core";
import "@multiproc/backend-fork";
import "@multiproc/backend-spawn";
import { native } from "@multiproc/core/internal";
import { joinAll } from "./join-all.ts";
import { median } from "./measure.ts";
import { runPythonScript } from "./python.ts";

const SIZES = { "64K": 64 << 10, "16M": 16 << 20 } as const;
type Size = keyof typeof SIZES;
type Mode = "bytes" | "object";

/** One workload's result: median µs per round trip, and minor faults per round trip (parent + child). */
interface Cost {
  us: number;
  faults: number;
}

// ---- Child target (exported: spawn children import it) ----

/**
 * Echoes each message back. Control messages: in "bytes" mode an empty one
 * asks for the child's fault count (answered as 8 bytes), one byte ends it; in
 * "object" mode "faults" asks, null ends it.
 */
export function echoFaults(conn: Connection, mode: Mode): void {
  for (;;) {
    if (mode === "bytes") {
      const m = conn.recvBytesSync();
      if (m.byteLength === 1) return;
      conn.sendBytes(m.byteLength === 0 ? new Uint8Array(new Float64Array([native.minorFaults("self")]).buffer) : m);
    } else {
      const v = conn.recvSync();
      if (v === null) return;
      conn.send(v === "faults" ? native.minorFaults("self") : v);
    }
  }
}

// ---- Ours ----

async function ours(
  backend: "fork" | "spawn",
  mode: Mode,
  size: Size,
  rounds: number,
  perRound: number,
): Promise<Cost> {
  const mp = getContext(backend);
  const [a, b] = mp.Pipe();
  const p = new mp.Process({ target: echoFaults, args: [b, mode] });
  p.start();
  b.close();
  const payload = new Uint8Array(SIZES[size]).fill(7);
  const once = () => {
    if (mode === "bytes") {
      a.sendBytes(payload);
      a.recvBytesSync();
    } else {
      a.send(payload);
      a.recvSync();
    }
  };
  const childFaults = (): number => {
    if (mode === "object") {
      a.send("faults");
      return a.recvSync() as number;
    }
    a.sendBytes(new Uint8Array(0));
    return new Float64Array(a.recvBytesSync().slice().buffer)[0]!;
  };
  for (let i = 0; i < perRound * 2; i++) once(); // warm-up: JIT tiers, buffers grown
  const samples: number[] = [];
  const c0 = childFaults();
  const f0 = native.minorFaults("self");
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) once();
    samples.push(((performance.now() - t0) * 1000) / perRound);
  }
  const own = native.minorFaults("self") - f0;
  const faults = (own + childFaults() - c0) / (rounds * perRound);
  if (mode === "bytes") a.sendBytes(new Uint8Array(1));
  else a.send(null);
  await joinAll([p]);
  a.close();
  return { us: median(samples), faults };
}

// ---- The run ----

const quick = Bun.argv.includes("--quick");
const ROUNDS = quick ? 3 : 7;
/** Round trips per sample: a 16 MiB one takes milliseconds, a 64 KiB one tens of µs. */
const PER_ROUND: Record<Size, number> = { "64K": quick ? 300 : 1000, "16M": quick ? 5 : 10 };

if (import.meta.main) {
  const results: Record<string, Cost> = {};
  for (const backend of ["fork", "spawn"] as const) {
    for (const mode of ["bytes", "object"] as const) {
      for (const size of Object.keys(SIZES) as Size[]) {
        results[`ours/${backend}|${mode}|${size}`] = await ours(backend, mode, size, ROUNDS, PER_ROUND[size]);
      }
    }
  }
  const python =
    runPythonScript<Record<string, Cost>>(new URL("./pipe-faults.py", import.meta.url).pathname, [
      String(ROUNDS),
      String(PER_ROUND["64K"]),
      String(PER_ROUND["16M"]),
    ]) ?? {};
  for (const [k, v] of Object.entries(python)) results[`CPython/${k}`] = v;
  if (Bun.argv.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    const rows = Object.entries(results)
      .filter(([k]) => k.startsWith("ours/"))
      .map(([k, c]) => {
        const [system, mode, size] = k.split("|") as [string, Mode, Size];
        const py = results[`CPython/${system.slice("ours/".length)}|${mode}|${size}`];
        return {
          system,
          workload: `${size} ${mode === "bytes" ? "sendBytes/recvBytes" : "send/recv"}`,
          "µs/round trip": c.us.toFixed(1),
          "faults/round trip": c.faults.toFixed(1),
          "CPython µs": py?.us.toFixed(1) ?? "-",
          "CPython faults": py?.faults.toFixed(1) ?? "-",
          "speed vs CPython": py === undefined ? "-" : `${(py.us / c.us).toFixed(2)}x`,
        };
      });
    console.log(`Pipe round trips, median of ${ROUNDS} samples; ${new Date().toISOString()}`);
    console.table(rows);
  }
  process.exit(0);
}
