/**
 * How every message of protocol/ is checked on arrival, written once: a plain
 * check of the exact shape first (the hot path: no zod, which costs a child
 * tens of milliseconds to import), and only for a message that fails it the
 * zod schema, whose first issue names the bad field.
 */
import type { z } from "zod";
import { ProcessError } from "../errors.ts";

/** A message's fast check and its zod schema (built on first use). */
export interface MessageShape<T> {
  /** What the message is called in errors, e.g. "task reply". */
  readonly name: string;
  /** Exactly the shape `schema()` accepts, without zod. */
  readonly is: (message: unknown) => message is T;
  readonly schema: () => z.ZodType<T>;
}

/**
 * `message` as a `T`, checked.
 * @throws ProcessError "Malformed <name> message: <field>: <what is wrong>"
 */
export function parseMessage<T>(shape: MessageShape<T>, message: unknown): T {
  if (shape.is(message)) return message;
  const r = shape.schema().safeParse(message);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.join(".") : "(message)";
  throw new ProcessError(`Malformed ${shape.name} message: ${at}: ${issue.message}`);
}

/** Builds a schema once, loading zod then (see the header). */
export function lazySchema<T>(build: (zod: typeof z) => z.ZodType<T>): () => z.ZodType<T> {
  let schema: z.ZodType<T> | undefined;
  return () => {
    if (schema === undefined) schema = build((require("zod") as typeof import("zod")).z);
    return schema;
  };
}

/** Whether `v` is a non-null object. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
