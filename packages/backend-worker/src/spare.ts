/**
 * The worker backend's spare (core's `Spare`): a Worker that has loaded
 * core and waits READY. Making the Worker's thread and loading core's child
 * realm are most of a worker child's start (the worker rows of `bun run
 * bench`, apps/bench/src/ours.ts, against a bare Worker in baselines.ts). Only the main thread keeps one. Before a fork it is let go
 * (`registerBeforeFork`): fork(2) copies only the calling thread, and a child
 * could wait forever on a lock the spare held at that moment.
 */
import { registerBeforeFork, Spare } from "@multiproc/core/internal";
import { prepareWorker } from "./worker-child.ts";

export const spare = new Spare(prepareWorker);

registerBeforeFork(() => spare.dismiss());
