/**
 * The messages of a cluster pool, in NATS headers plus a codec body.
 *
 * Task, published on `multiproc.<name>.tasks` (the work-queue stream):
 *   Multiproc-Task     <caller id>.<seq>         unique per caller; results are deduped by it
 *   Multiproc-Reply    multiproc.<name>.results.<caller id>
 *   Multiproc-Fn       <module relative to the app root>#<export name>
 *   Multiproc-Kind     apply | map | starmap | batch (applyAsync calls of one turn: see apply-batch.ts)
 *   Multiproc-Timeout  ms (optional): the task's own timeout, as on the local Pool
 *   body               dumps(args) for apply, dumps(items) for map and starmap
 * Result, published on the Reply subject (stored in the results stream
 * before the task is acknowledged):
 *   Multiproc-Task     the task's id
 *   Multiproc-Ok       1 | 0
 *   body               dumps(value): the return value, the chunk's values, or the error
 * Headers are checked here, before anything is decoded or imported: a
 * message that fails the check is refused.
 */
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { z } from "zod";

export const H = {
  task: "Multiproc-Task",
  reply: "Multiproc-Reply",
  fn: "Multiproc-Fn",
  kind: "Multiproc-Kind",
  timeout: "Multiproc-Timeout",
  ok: "Multiproc-Ok",
} as const;

const TASK_ID = /^[A-Za-z0-9]+\.[0-9]+$/;
// A relative module path without "..", then "#" and a JS identifier.
const FN_REF = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|#))[^#\0]+#[\p{L}_$][\p{L}\p{N}_$]*$/u;

export type TaskKind = "apply" | "map" | "starmap" | "batch";

/** The headers of a task message, checked. */
export interface TaskHeaders {
  id: string;
  reply: string;
  fn: string;
  kind: TaskKind;
  timeout?: number;
}

/** The schema of each result prefix, built once: building a zod schema per task cost ~0.2-0.7 ms of every round trip. */
const schemas = new Map<string, ReturnType<typeof buildSchema>>();

function schemaOf(resultPrefix: string): ReturnType<typeof buildSchema> {
  let schema = schemas.get(resultPrefix);
  if (schema === undefined) {
    schema = buildSchema(resultPrefix);
    schemas.set(resultPrefix, schema);
  }
  return schema;
}

function buildSchema(resultPrefix: string) {
  return z.object({
    id: z.string().regex(TASK_ID, "not a task id (<caller>.<seq>)"),
    reply: z
      .string()
      .refine((s) => s.startsWith(`${resultPrefix}.`) && /^[A-Za-z0-9]+$/.test(s.slice(resultPrefix.length + 1)), {
        message: `not a result subject under ${resultPrefix}`,
      }),
    fn: z.string().max(1024).regex(FN_REF, "not <module path>#<export name>"),
    kind: z.enum(["apply", "map", "starmap", "batch"]),
    timeout: z.coerce.number().int().nonnegative().optional(),
  });
}

/** Builds a task's headers. */
export function taskHeaders(t: TaskHeaders): MsgHdrs {
  const h = natsHeaders();
  h.set(H.task, t.id);
  h.set(H.reply, t.reply);
  h.set(H.fn, t.fn);
  h.set(H.kind, t.kind);
  if (t.timeout !== undefined) h.set(H.timeout, String(t.timeout));
  return h;
}

/** A task's headers, or the reason they are not a task of this pool. */
export function parseTaskHeaders(
  h: MsgHdrs | undefined,
  resultPrefix: string,
): { ok: true; task: TaskHeaders } | { ok: false; why: string } {
  if (h === undefined) return { ok: false, why: "no headers" };
  const raw = {
    id: h.get(H.task) || undefined,
    reply: h.get(H.reply) || undefined,
    fn: h.get(H.fn) || undefined,
    kind: h.get(H.kind) || undefined,
    timeout: h.get(H.timeout) || undefined,
  };
  const r = schemaOf(resultPrefix).safeParse(raw);
  if (r.success) return { ok: true, task: r.data as TaskHeaders };
  const issue = r.error.issues[0]!;
  return { ok: false, why: `header ${String(issue.path[0] ?? "?")}: ${issue.message}` };
}

/** Builds a result's headers. */
export function resultHeaders(id: string, ok: boolean): MsgHdrs {
  const h = natsHeaders();
  h.set(H.task, id);
  h.set(H.ok, ok ? "1" : "0");
  return h;
}
