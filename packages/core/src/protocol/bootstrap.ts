/**
 * The bootstrap conversation: the one message a parent sends a child that
 * re-imports the program (spawn, worker). Wire format: the codec's bytes of a
 * `Bootstrap` object, validated by `bootstrapSchema()` on arrival. `args` and
 * `fields` are codec bytes of their own, decoded only after the header is
 * known to be sound, since decoding may import the user's modules.
 *
 * zod is loaded lazily: importing it costs a child 25–60 ms, more than the
 * whole start of a worker should take. A sound message passes `isBootstrap`,
 * a plain check of the same shape; anything else goes through the zod
 * schema, which names what is wrong. A test keeps the two in agreement.
 */
import type { z } from "zod";
import { type BackendName, backendNames } from "../config.ts";
import { isObject, lazySchema, parseMessage } from "./parse.ts";

/** A function or class named by the module that exports it (pickle's global reference). */
export interface ExportRef {
  module: string;
  name: string;
}

/** What a spawn or worker child needs to rebuild and run its Process. */
export interface Bootstrap {
  type: "bootstrap";
  version: 1;
  backend: BackendName;
  name: string;
  daemon: boolean;
  /** Python's `_identity`: the child's position in the process tree, e.g. [2, 1]. */
  identity: number[];
  parent: { pid: number; name: string };
  /** An exported subclass of Process, or null for the base class. */
  cls: ExportRef | null;
  /** The exported target function, or null when there is none. */
  target: ExportRef | null;
  /** The parent's `process.argv`, which the child's becomes (Python's spawn sets `sys.argv`). */
  argv: string[];
  /** The child's auth key (Python: `authkey`, inherited). */
  authkey: Uint8Array;
  /** Codec bytes of the `args` array. */
  args: Uint8Array;
  /** Codec bytes of the subclass instance's own fields (`{}` for the base class). */
  fields: Uint8Array;
  /** Codec bytes of library objects the child takes on before its target loads (see `inherit.ts`); absent when none. */
  inherit?: Uint8Array;
}

/** The zod schema of `Bootstrap` (built on first use). */
export const bootstrapSchema: () => z.ZodType<Bootstrap> = lazySchema((z) => {
  const ref = z.object({ module: z.string().min(1), name: z.string().min(1) });
  const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, {
    message: "expected codec bytes (a Uint8Array)",
  });
  return z.object({
    type: z.literal("bootstrap"),
    version: z.literal(1),
    backend: z.enum(backendNames),
    name: z.string(),
    daemon: z.boolean(),
    identity: z.array(z.number().int().positive()),
    parent: z.object({ pid: z.number().int().positive(), name: z.string() }),
    cls: ref.nullable(),
    target: ref.nullable(),
    argv: z.array(z.string()),
    authkey: bytes,
    args: bytes,
    fields: bytes,
    inherit: bytes.optional(),
  });
});

const isPositiveInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
const isRef = (v: unknown): boolean =>
  v === null ||
  (isObject(v) && typeof v.module === "string" && v.module !== "" && typeof v.name === "string" && v.name !== "");

/** The fast path of `parseBootstrap`: exactly the shape `bootstrapSchema()` accepts. */
export function isBootstrap(m: unknown): m is Bootstrap {
  return (
    isObject(m) &&
    m.type === "bootstrap" &&
    m.version === 1 &&
    backendNames.includes(m.backend as BackendName) &&
    typeof m.name === "string" &&
    typeof m.daemon === "boolean" &&
    Array.isArray(m.identity) &&
    m.identity.every(isPositiveInt) &&
    isObject(m.parent) &&
    isPositiveInt(m.parent.pid) &&
    typeof m.parent.name === "string" &&
    isRef(m.cls) &&
    isRef(m.target) &&
    Array.isArray(m.argv) &&
    m.argv.every((a) => typeof a === "string") &&
    m.authkey instanceof Uint8Array &&
    m.args instanceof Uint8Array &&
    m.fields instanceof Uint8Array &&
    (m.inherit === undefined || m.inherit instanceof Uint8Array)
  );
}

/** Validates a decoded bootstrap message. @throws ProcessError naming the bad field */
export function parseBootstrap(message: unknown): Bootstrap {
  return parseMessage({ name: "bootstrap", is: isBootstrap, schema: bootstrapSchema }, message);
}
