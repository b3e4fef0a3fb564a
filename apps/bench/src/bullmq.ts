/**
 * BullMQ on a local Redis doing the cluster rows' jobs (#22), in a Pool group
 * of its own (pool.ts): two BullMQ Worker processes stand for the cluster's
 * two worker hosts, with the same number of tasks running at once on each;
 * the caller adds the jobs and waits for every result, as a cluster Pool's
 * caller does. Without redis-server the group prints why and gives no rows.
 */
import { join } from "node:path";
import { Queue } from "bullmq";
import { BullmqResults } from "./bullmq-results.ts";
import { awaitOutput, killOnStop } from "./cluster-host.ts";
import { add, type Figure, type RunOptions } from "./measure.ts";
import { PW } from "./pool.ts";
import { startRedis } from "./redis-server.ts";
import { Bench } from "tinybench";

export const BULLMQ_SYSTEM = "BullMQ (Redis, 2 worker processes)";
const QUEUE = "bench";
/**
 * Jobs a Worker process runs at once: BullMQ's concurrency, the number of
 * tasks a cluster host of one process holds at once (its 8 per process), so
 * both sides overlap broker round trips with running tasks alike.
 */
const CONCURRENCY = 8;
const READY_MS = 15_000;
/** Longest a sample may take before it fails (a lost job would hang it). */
const SAMPLE_MS = 120_000;

/** Starts one Worker process and waits for its "ready" line. */
async function startWorker(port: number): Promise<Bun.Subprocess<"ignore", "pipe", "inherit">> {
  const proc = killOnStop(
    Bun.spawn([process.execPath, join(import.meta.dir, "bullmq-worker.ts"), String(port), QUEUE, String(CONCURRENCY)], {
      cwd: join(import.meta.dir, ".."),
      stdout: "pipe",
      stderr: "inherit",
    }),
  );
  await awaitOutput(proc, "ready", READY_MS, "a BullMQ worker");
  return proc;
}

/** `work` within SAMPLE_MS, else every result still waited for fails. */
async function withinDeadline<T>(results: BullmqResults, work: Promise<T>): Promise<T> {
  const timer = setTimeout(() => results.failAll(new Error(`BullMQ: a sample took over ${SAMPLE_MS} ms`)), SAMPLE_MS);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

/** The BullMQ rows of the cluster workloads; none without redis-server. */
export async function runBullmqGroup(opts: RunOptions): Promise<Figure[]> {
  const redis = await startRedis();
  if (redis === undefined) return [];
  const connection = { host: "127.0.0.1", port: redis.port };
  const workers: Bun.Subprocess[] = [];
  // Every job gives four events or more (added, waiting, active, completed): room for a whole map's, unread.
  const queue = new Queue(QUEUE, { connection, streams: { events: { maxLen: 1_000_000 } } });
  const results = new BullmqResults(QUEUE, redis.port);
  try {
    await Promise.all([queue.waitUntilReady(), results.ready()]);
    workers.push(...(await Promise.all([startWorker(redis.port), startWorker(redis.port)])));
    // Small counts in quick mode: the group must add only seconds to CI's quick run.
    const inFlight = opts.quick ? 1_000 : 10_000;
    const mapped = opts.quick ? 5_000 : 100_000;
    /** Waits for the results of the jobs `ids`, whose data were 0, 1, 2, ... (so their results are 0, 1, 4, ...). */
    const allResults = async (ids: (string | undefined)[]) => {
      const values = await withinDeadline(results, Promise.all(ids.map((id) => results.wait(id ?? "?"))));
      const wrong = values.findIndex((v, i) => v !== i * i);
      if (wrong !== -1) throw new Error(`BullMQ: job ${wrong} returned ${String(values[wrong])}, not ${wrong * wrong}`);
    };
    for (let i = 0; i < 50; i++) await allResults([(await queue.add("square", 0)).id]); // Warm before timing.
    // A fixed number of samples, warm already (the jobs above): one 100 000-job map takes tens of seconds.
    const bench = new Bench({ time: 0, iterations: opts.quick ? 1 : 2, warmupTime: 0, warmupIterations: 0 });
    const readers = [
      add(
        bench,
        PW.inFlight,
        BULLMQ_SYSTEM,
        async () => {
          const jobs = await Promise.all(Array.from({ length: inFlight }, (_, i) => queue.add("square", i)));
          await allResults(jobs.map((j) => j.id));
        },
        inFlight,
      ),
      add(
        bench,
        PW.map,
        BULLMQ_SYSTEM,
        async () => {
          const jobs = await queue.addBulk(Array.from({ length: mapped }, (_, i) => ({ name: "square", data: i })));
          await allResults(jobs.map((j) => j.id));
        },
        mapped,
      ),
    ];
    await bench.run();
    return readers.map((read) => read()).filter((f): f is Figure => f !== undefined);
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => Promise.race([w.exited, Bun.sleep(10_000)])));
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL"); // Stuck closing.
    await Promise.allSettled([results.close(), queue.close()]);
    await redis.stop();
  }
}
