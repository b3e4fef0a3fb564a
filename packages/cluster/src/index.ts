/**
 * @multiproc/cluster: multiproc's Pool across hosts on NATS JetStream (#22).
 * Core loads it when `Pool` is given a `cluster` option; `multiproc worker`
 * (bin/multiproc.ts) serves the tasks.
 *
 * @module @multiproc/cluster
 */
import type { ClusterModule } from "@multiproc/core/internal";
import { ClusterPoolImpl } from "./cluster-pool.ts";
import { ClusterQueueImpl } from "./cluster-queue.ts";

export { parseWorkerArgs, HELP, USAGE } from "./worker-args.ts";
export { DEFAULT_ACK_WAIT, WorkerHost, type WorkerHostOptions } from "./worker-host.ts";

/** What core's cluster-registry.ts loads. */
export const cluster: ClusterModule = {
  Pool: (opts) => new ClusterPoolImpl(opts),
  Queue: (opts) => new ClusterQueueImpl(opts),
};
