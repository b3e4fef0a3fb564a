/**
 * `bun src/bullmq-worker.ts PORT QUEUE CONCURRENCY`: one BullMQ Worker process
 * of the BullMQ rows (bullmq.ts), standing for one of the cluster's worker
 * hosts: it runs the same trivial task and prints "ready" once connected.
 * SIGTERM closes it.
 */
import { Worker } from "bullmq";
import { square } from "./pool-task.ts";

const [port, queue, concurrency] = Bun.argv.slice(2);
if (port === undefined || queue === undefined || concurrency === undefined) {
  throw new Error("usage: bun src/bullmq-worker.ts PORT QUEUE CONCURRENCY");
}
const worker = new Worker(queue, async (job) => square(job.data as number), {
  connection: { host: "127.0.0.1", port: Number(port) },
  concurrency: Number(concurrency),
  removeOnComplete: { count: 0 },
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
