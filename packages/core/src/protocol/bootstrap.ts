/**
 * The bootstrap conversation: the one message a parent sends a child that
 * re-imports the program (spawn, worker). Wire format: the codec's bytes of a
 * `Bootstrap` object, validated by `BootstrapSchema` on arrival. `args` and
 * `fields` are codec bytes of their own, decoded only after the header is
 * known to be sound, since decoding may import the user's modules.
 */
import { z } from "zod";
import { BackendNameSchema } from "../config.ts";
import { ProcessError } from "../errors.ts";

/** A function or class named by the module that exports it (pickle's global reference). */
export const ExportRefSchema = z.object({ module: z.string().min(1), name: z.string().min(1) });
export type ExportRef = z.infer<typeof ExportRefSchema>;

/** Codec bytes (any Uint8Array, whatever buffer is under it). */
const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected codec bytes (a Uint8Array)" });

export const BootstrapSchema = z.object({
  type: z.literal("bootstrap"),
  version: z.literal(1),
  backend: BackendNameSchema,
  name: z.string(),
  daemon: z.boolean(),
  /** Python's `_identity`: the child's position in the process tree, e.g. [2, 1]. */
  identity: z.array(z.number().int().positive()),
  parent: z.object({ pid: z.number().int().positive(), name: z.string() }),
  /** An exported subclass of Process, or null for the base class. */
  cls: ExportRefSchema.nullable(),
  /** The exported target function, or null when there is none. */
  target: ExportRefSchema.nullable(),
  /** Codec bytes of the `args` array. */
  args: Bytes,
  /** Codec bytes of the subclass instance's own fields (`{}` for the base class). */
  fields: Bytes,
});
export type Bootstrap = z.infer<typeof BootstrapSchema>;

/** Validates a decoded bootstrap message. @throws ProcessError naming the bad field */
export function parseBootstrap(message: unknown): Bootstrap {
  const r = BootstrapSchema.safeParse(message);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.join(".") : "(message)";
  throw new ProcessError(`Malformed bootstrap message: ${at}: ${issue.message}`);
}
