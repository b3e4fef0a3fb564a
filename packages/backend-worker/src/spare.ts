/**
 * The worker backend's spare (core's `Spare`): a Worker that has loaded
 * core and waits READY. A Worker costs its thread about 1.5 ms to make and
 * core's child realm about 2-4 ms to load here, most of a worker child's
 * start. Only the main thread keeps one. Before a fork it is let go
 * (`registerBeforeFork`): fork(2) copies only the calling thread, and a child
 * could wait forever on a lock the spare held at that moment.
 */
import { registerBeforeFork, Spare } from "@multiproc/core/internal";
import { prepareWorker } from "./worker-child.ts";

export const spare = new Spare(prepareWorker);

registerBeforeFork(() => spare.dismiss());
