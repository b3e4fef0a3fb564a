/**
 * `bun src/pool-crash.ts`: what each pool does when a worker dies in the
 * middle of a task (the task ends its worker), measured, as a markdown table
 * for docs/pool.md. A pool "hangs" when the task has not settled after 3 s.
 */
import { getAllStartMethods, getContext } from "@multiproc/core";
import { Piscina } from "piscina";
import Tinypool from "tinypool";
import { die, square } from "./pool-crash-task.ts";

const TASK_FILE = new URL("./pool-crash-task.ts", import.meta.url).href;
const HANG_MS = 3000;

type Outcome = "ok" | "hang" | { error: string };

async function settle(p: Promise<unknown>): Promise<Outcome> {
  let timer: Timer | undefined;
  const hang = new Promise<"hang">((resolve) => {
    timer = setTimeout(() => resolve("hang"), HANG_MS);
  });
  try {
    const r = await Promise.race([p.then(() => "ok" as const), hang]);
    return r;
  } catch (e) {
    return { error: e instanceof Error ? e.constructor.name : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

function describe(crash: Outcome, after: Outcome): string {
  if (crash === "hang") return "hangs: the task never settles (stopped after 3 s)";
  if (crash === "ok") return "the task succeeded (the worker did not die?)";
  const next = after === "ok" ? "the pool recovers" : after === "hang" ? "the next task hangs" : "the pool is broken";
  return `the task fails (${crash.error}); ${next}`;
}

const rows: [string, string][] = [];
for (const backend of getAllStartMethods()) {
  const pool = getContext(backend).Pool(2);
  const crash = await settle(pool.apply(die));
  rows.push([`multiproc Pool (${backend})`, describe(crash, await settle(pool.apply(square, [3])))]);
  pool.terminate();
}
for (const [name, make] of [
  ["piscina (threads)", () => new Piscina({ filename: TASK_FILE, minThreads: 2, maxThreads: 2 })],
  ["tinypool (threads)", () => new Tinypool({ filename: TASK_FILE, minThreads: 2, maxThreads: 2 })],
] as const) {
  const pool = make();
  const crash = await settle(pool.run(-1));
  rows.push([name, describe(crash, await settle(pool.run(3)))]);
  void pool.destroy().catch(() => undefined);
}
const python = Bun.which("python3");
if (python !== null) {
  const r = Bun.spawnSync([python, new URL("./pool-crash.py", import.meta.url).pathname], { timeout: 30_000 });
  if (r.exitCode === 0) rows.push(...Object.entries(JSON.parse(r.stdout.toString()) as Record<string, string>));
}
console.log("| pool | a worker dies in the middle of a task |\n|---|---|");
for (const [name, outcome] of rows) console.log(`| ${name} | ${outcome} |`);
process.exit(0);
