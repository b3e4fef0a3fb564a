/**
 * The control conversation of a Worker child (the worker backend): two
 * messages posted to the Worker, structured-cloned. The prepare message
 * carries the control block (Int32 words over a SharedArrayBuffer, laid out
 * by backend-worker's control.ts) and the parent realm's arena words; the
 * start message, posted by `start()`, the bootstrap's codec bytes
 * (bootstrap.ts), the worker's own copies of the inherited descriptors and
 * the parent's environment. Kept free of everything but parse.ts: the Worker
 * checks its prepare message before it loads the rest of core.
 */
import type { z } from "zod";
import { isObject, lazySchema, parseMessage } from "./parse.ts";

/** The first message the parent posts to a worker: all it needs to load core and get ready. */
export interface PrepareMessage {
  /** The control block's words over a SharedArrayBuffer. */
  readonly control: Int32Array;
  /** The parent realm's arena words (core's `arenaRoot`): the worker carves shared blocks from the same segments. */
  readonly arena: Int32Array;
  /**
   * The worker's line to the supervisor (backend-worker's supervisor.ts),
   * which makes the Workers of its non-daemon children so that they outlive it.
   */
  readonly supervisor?: MessagePort | undefined;
}

/** The second and last message: the child to be, posted by `start()`. */
export interface WorkerStartMessage {
  /** The codec bytes of core's bootstrap message (`protocol/bootstrap.ts`). */
  readonly bootstrap: Uint8Array;
  /**
   * The worker's own copies (dups) of `LaunchRequest.fds`, in order:
   * descriptors are process-wide, and the parent may close its own right
   * after `start()`.
   */
  readonly fds: number[];
  /**
   * The parent's environment at `start()`, which the worker's becomes: a
   * spare Worker was made earlier, and what a Worker copies when it is made
   * is not reliably the parent's `process.env` of that moment.
   */
  readonly env: Record<string, string>;
}

const isSharedWords = (v: unknown): v is Int32Array => v instanceof Int32Array && v.buffer instanceof SharedArrayBuffer;

/** Exactly the shape `prepareSchema()` accepts. */
export function isPrepare(m: unknown): m is PrepareMessage {
  if (!isObject(m) || !isSharedWords(m.control) || !isSharedWords(m.arena)) return false;
  return m.supervisor === undefined || m.supervisor instanceof MessagePort;
}

/** Exactly the shape `workerStartSchema()` accepts. */
export function isWorkerStart(m: unknown): m is WorkerStartMessage {
  if (!isObject(m) || !(m.bootstrap instanceof Uint8Array) || !Array.isArray(m.fds) || !isObject(m.env)) return false;
  if (!m.fds.every((fd) => Number.isInteger(fd) && fd >= 0)) return false;
  for (const key in m.env) if (typeof m.env[key] !== "string") return false;
  return true;
}

/** The zod schema of `PrepareMessage` (built on first use). */
export const prepareSchema: () => z.ZodType<PrepareMessage> = lazySchema((z) => {
  const words = z.custom<Int32Array>(isSharedWords, { message: "expected an Int32Array over a SharedArrayBuffer" });
  const port = z.custom<MessagePort>((v) => v instanceof MessagePort, { message: "expected a MessagePort" });
  return z.object({ control: words, arena: words, supervisor: port.optional() });
});

/** The zod schema of `WorkerStartMessage` (built on first use). */
export const workerStartSchema: () => z.ZodType<WorkerStartMessage> = lazySchema((z) =>
  z.object({
    bootstrap: z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected codec bytes (a Uint8Array)" }),
    fds: z.array(z.number().int().nonnegative()),
    env: z.record(z.string(), z.string()),
  }),
);

/** Checks a Worker's prepare message. @throws ProcessError naming the bad field */
export function parsePrepare(message: unknown): PrepareMessage {
  return parseMessage({ name: "prepare", is: isPrepare, schema: prepareSchema }, message);
}

/** Checks a Worker's start message. @throws ProcessError naming the bad field */
export function parseWorkerStart(message: unknown): WorkerStartMessage {
  return parseMessage({ name: "worker start", is: isWorkerStart, schema: workerStartSchema }, message);
}
