/**
 * The applyAsync calls a caller makes in one event-loop turn, sent as one
 * task message of kind "batch" (#22): the broker stores one message instead
 * of one per call, which is most of a small task's cost.
 *
 * Batch task body: dumps([[task id, dumps(args)], ...]), every task of one
 * function. Its result messages (one or more, each under the broker's size
 * limit) carry the batch's id in Multiproc-Task and a body of
 * dumps([[task id, ok, dumps(value or error)], ...]); the caller settles each
 * task the first time its id is seen, whichever message (or redelivery)
 * brings it, so each task's result is delivered once.
 */
import { loads } from "@multiproc/core/internal";

/** Most calls in one batch message: bounds the work one dead host gives back late. */
export const MAX_BATCH_TASKS = 512;
/** Most argument bytes in one batch message, well under the broker's 1 MiB max_payload. */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Most result bytes in one result message of a batch; a larger result goes in a message of its own. */
export const MAX_RESULT_PART_BYTES = 256 * 1024;

/** One call of a batch: its task id and its encoded argument list. */
export type BatchEntry = [id: string, args: Uint8Array];
/** One call's outcome: its task id, whether it returned, and its encoded value or error. */
export type BatchOutcome = [id: string, ok: boolean, body: Uint8Array];

const TASK_ID = /^[A-Za-z0-9]+\.[0-9]+$/;

/** The entries of a batch body, or why it is not one. */
export function parseBatch(body: unknown): BatchEntry[] | string {
  if (!Array.isArray(body) || body.length === 0) return "a batch body is a non-empty array of [task id, args]";
  for (const e of body) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || !TASK_ID.test(e[0])) {
      return "a batch entry is [task id (<caller>.<seq>), encoded args]";
    }
    if (!(e[1] instanceof Uint8Array)) return `batch entry ${e[0]}: its args are not encoded bytes`;
  }
  return body as BatchEntry[];
}

/** The outcomes of a batch result body. @throws TypeError when it is not one */
export function parseOutcomes(body: Uint8Array): BatchOutcome[] {
  const value = loads(body);
  if (
    !Array.isArray(value) ||
    !value.every(
      (o) =>
        Array.isArray(o) &&
        o.length === 3 &&
        typeof o[0] === "string" &&
        typeof o[1] === "boolean" &&
        o[2] instanceof Uint8Array,
    )
  ) {
    throw new TypeError("a batch result body is an array of [task id, ok, encoded value]");
  }
  return value as BatchOutcome[];
}

/** Cuts outcomes into result messages of at most MAX_RESULT_PART_BYTES (a larger outcome alone). */
export function resultParts(outcomes: BatchOutcome[]): BatchOutcome[][] {
  const parts: BatchOutcome[][] = [];
  let part: BatchOutcome[] = [];
  let bytes = 0;
  for (const o of outcomes) {
    if (part.length > 0 && bytes + o[2].length > MAX_RESULT_PART_BYTES) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(o);
    bytes += o[2].length + o[0].length;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
