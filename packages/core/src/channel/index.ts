/** Connections, pipes and queues between processes and threads (Python: `connection.py`, `queues.py`). */
export { Connection } from "./connection.ts";
export { JoinableQueue } from "./joinable-queue.ts";
export { Pipe } from "./pipe.ts";
export { Queue, type QueueWaitOptions } from "./queue.ts";
export { SimpleQueue } from "./simple-queue.ts";
