/**
 * Hunts the residual fork hang (docs/fork.md, "Hangs"): forks pairs of
 * children that allocate while the parent churns its heap, and reports every
 * child still running after 2 s with its kernel state (and, with GDB=1, a
 * gdb backtrace). FETCH=1 first starts the runtime's HTTP client thread.
 * Run: bun --preload ./src/preload.ts bench/hang-hunt.ts [forks]
 */
import { readFileSync } from "node:fs";
import { getContext } from "../../core/src/index.ts";
import { startRetries } from "../src/index.ts";

const mp = getContext("fork");
const total = Number(process.argv[2] ?? 1000);

if (process.env.FETCH) {
  const server = Bun.serve({ port: 0, fetch: () => new Response("ok") });
  await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
  server.stop(true);
}

function allocate(): void {
  const a: Array<{ j: number }> = [];
  for (let j = 0; j < 2000; j++) a.push({ j });
}

let hangs = 0;
const junk: unknown[] = [];
const t0 = performance.now();
for (let i = 0; i < total; i += 2) {
  for (let k = 0; k < 200; k++) junk.push({ k, s: `x${k}${i}` });
  if (junk.length > 20_000) junk.length = 0;
  const pair = [new mp.Process({ target: allocate }), new mp.Process({ target: allocate })];
  for (const p of pair) p.start();
  await Bun.sleep(0);
  for (const p of pair) {
    await p.join(2000);
    if (p.exitCode !== null) continue;
    hangs++;
    const pid = p.pid!;
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2];
    const wchan = readFileSync(`/proc/${pid}/wchan`, "utf8");
    console.log(`hung: fork ${i} pid ${pid} state ${state} wchan ${wchan}`);
    if (process.env.GDB) Bun.spawnSync(["gdb", "-p", String(pid), "-batch", "-ex", "bt 30"], { stdout: "inherit" });
    p.kill();
    await p.join(2000);
  }
}
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
console.log(`${total} forks in ${seconds} s: ${hangs} hung after their start, ${startRetries()} forked again`);
process.exit(0);
