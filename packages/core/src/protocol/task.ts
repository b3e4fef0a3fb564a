/**
 * The Pool conversation (Python: the task and result tuples of
 * `multiprocessing.pool`). Wire format: codec values on two resident queues.
 * Each worker has its own task queue; `TaskMessage` is
 * `[id, fn, kind, items]`, and `null` tells the worker to exit. All workers
 * share one result queue; `ReplyMessage` is `[id, ok, value, ms]`: the result
 * (ok) or the error the task threw, and how long it ran. Tuples, not objects:
 * a `map` of small tasks sends millions of them, and the checks below are a
 * handful of `typeof`s on the hot path (zod only for a malformed one).
 */
import type { z } from "zod";
import type { ExportRef } from "./bootstrap.ts";
import { isObject, lazySchema, type MessageShape, parseMessage } from "./parse.ts";

/** How a worker finds a task's function: a module export, or (fork) an index into the pool's table. */
export type FnRef = ExportRef | number;

/** What a task does with its items. */
export const Kind = {
  /** `fn(...items)`, one result. */
  APPLY: 0,
  /** `fn(item)` for each item, an array of results. */
  MAP: 1,
  /** `fn(...item)` for each item, an array of results. */
  STARMAP: 2,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** A task's items or a chunk's results: a Float64Array when they are all numbers (see `packNumbers`). */
export type Items = unknown[] | Float64Array;

/** `[id, fn, kind, items]`; `null` tells the worker to exit. */
export type TaskMessage = [id: number, fn: FnRef, kind: Kind, items: Items];

/** `[id, ok, value, ms]`: the result or the error the task threw, and how long it ran. */
export type ReplyMessage = [id: number, ok: boolean, value: unknown, ms: number];

/** The reply id a worker uses when its initializer threw. */
export const INITIALIZER_FAILED = -1;

const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= INITIALIZER_FAILED;
const isFnRef = (v: unknown): boolean =>
  (Number.isInteger(v) && (v as number) >= 0) ||
  (isObject(v) && typeof v.module === "string" && v.module !== "" && typeof v.name === "string" && v.name !== "");

/** Exactly the shape `taskSchema()` accepts. */
export function isTask(m: unknown): m is TaskMessage | null {
  return (
    m === null ||
    (Array.isArray(m) &&
      m.length === 4 &&
      isId(m[0]) &&
      m[0] >= 0 &&
      isFnRef(m[1]) &&
      (m[2] === Kind.APPLY || m[2] === Kind.MAP || m[2] === Kind.STARMAP) &&
      (Array.isArray(m[3]) || m[3] instanceof Float64Array))
  );
}

/** Exactly the shape `replySchema()` accepts. */
export function isReply(m: unknown): m is ReplyMessage {
  return Array.isArray(m) && m.length === 4 && isId(m[0]) && typeof m[1] === "boolean" && typeof m[3] === "number";
}

/** The zod schema of a task message (built on first use). */
export const taskSchema: () => z.ZodType<TaskMessage | null> = lazySchema((z) =>
  z
    .tuple([
      z.number().int().nonnegative(),
      z.union([z.number().int().nonnegative(), z.object({ module: z.string().min(1), name: z.string().min(1) })]),
      z.union([z.literal(Kind.APPLY), z.literal(Kind.MAP), z.literal(Kind.STARMAP)]),
      z.union([z.array(z.unknown()), z.instanceof(Float64Array)]),
    ])
    .nullable(),
);

/** The zod schema of a reply message (built on first use). */
export const replySchema: () => z.ZodType<ReplyMessage> = lazySchema((z) =>
  z.tuple([z.number().int().min(INITIALIZER_FAILED), z.boolean(), z.unknown(), z.number()]),
);

const taskShape: MessageShape<TaskMessage | null> = { name: "task", is: isTask, schema: taskSchema };
const replyShape: MessageShape<ReplyMessage> = { name: "task reply", is: isReply, schema: replySchema };

/** Checks a task message a worker took. @throws ProcessError naming the bad field */
export function parseTask(message: unknown): TaskMessage | null {
  return parseMessage(taskShape, message);
}

/** Checks a reply the pool took from its result queue. @throws ProcessError naming the bad field */
export function parseReply(message: unknown): ReplyMessage {
  return parseMessage(replyShape, message);
}
