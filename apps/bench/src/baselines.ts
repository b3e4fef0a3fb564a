/** The raw Bun floors: what Bun itself costs without this library. */
import { add, addApart, type Figure, makeApartBench, makeBench, type RunOptions } from "./measure.ts";
import { PIPE_PAYLOADS, W } from "./workloads.ts";

const ECHO_CHILD = new URL("./echo-child.ts", import.meta.url).pathname;
const ECHO_WORKER = new URL("./echo-worker.ts", import.meta.url).pathname;
const EXIT_WORKER = new URL("./exit-worker.ts", import.meta.url).pathname;
const EXIT_TARGET = new URL("./exit-target.ts", import.meta.url).pathname;

/** A Worker started from `file` that ends itself at its first message, awaited as a child is joined. */
async function exitingWorker(file: string): Promise<void> {
  const w = new Worker(file);
  const closed = new Promise<void>((resolve) => w.addEventListener("close", () => resolve(), { once: true }));
  w.postMessage("exit");
  await closed;
}

/** Runs the baselines; returns one figure per workload and baseline. */
export async function runBaselines(opts: RunOptions): Promise<Figure[]> {
  const bench = makeBench(opts);
  const readers: (() => Figure | undefined)[] = [];
  const apart = makeApartBench(opts);
  const starts = [
    {
      system: "Bun.spawn (bun -e 0)",
      // From a folder with no bunfig.toml: the raw floor, without this app's preload.
      once: () =>
        Bun.spawn([process.execPath, "-e", "0"], { cwd: "/", stdio: ["ignore", "inherit", "inherit"] }).exited,
    },
    {
      // From this app's folder, as a spawn child runs (#17: the floor of one started back to back).
      system: "Bun.spawn, imports the target",
      once: () => Bun.spawn([process.execPath, EXIT_TARGET], { stdio: ["ignore", "inherit", "inherit"] }).exited,
    },
    {
      system: "Bun Worker",
      once: async () => {
        const w = new Worker(ECHO_WORKER);
        await new Promise<void>((resolve) => {
          w.onmessage = () => resolve();
          w.postMessage("ready?");
        });
        await w.terminate();
      },
    },
    {
      // As a child is joined: the Worker ends itself, and its "close" event says it is gone.
      system: "Bun Worker, exits",
      once: () => exitingWorker(EXIT_WORKER),
    },
    {
      // The floor of a worker child whose module imports Lock from core, when no spare is ready (#17).
      system: "Bun Worker, imports the target, exits",
      once: () => exitingWorker(EXIT_TARGET),
    },
  ];
  for (const { system, once } of starts) {
    readers.push(add(bench, W.startJoin, system, once));
    readers.push(addApart(apart, W.startJoinApart, system, once));
  }

  // Round trips over an already running peer.
  const child = Bun.spawn([process.execPath, ECHO_CHILD], {
    stdio: ["ignore", "inherit", "inherit"],
    ipc: (m) => ipcReply?.(m),
  });
  let ipcReply: ((m: unknown) => void) | undefined;
  const worker = new Worker(ECHO_WORKER);
  const payloads = [
    { workload: W.pipeSmall, value: { id: 1, name: "spam", tags: ["a", "b"] } as unknown },
    ...PIPE_PAYLOADS.map((p) => ({ workload: p.workload, value: new Uint8Array(p.bytes).fill(7) as unknown })),
  ];
  for (const { workload, value } of payloads) {
    readers.push(
      add(
        bench,
        workload,
        "Bun.spawn IPC",
        () =>
          new Promise<void>((resolve) => {
            ipcReply = () => resolve();
            child.send(value);
          }),
      ),
    );
    readers.push(
      add(
        bench,
        workload,
        "Bun Worker postMessage",
        () =>
          new Promise<void>((resolve) => {
            worker.onmessage = () => resolve();
            worker.postMessage(value);
          }),
      ),
    );
  }
  await bench.run();
  await apart.run();
  child.kill();
  await worker.terminate();
  return readers.map((r) => r()).filter((f): f is Figure => f !== undefined);
}
