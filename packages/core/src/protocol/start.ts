/**
 * The start conversation of a child in its own process (spawn): what a spare
 * process waiting on its start socket is given at `start()`. Wire format: a
 * memfd of a u32 header length (little-endian), the header as JSON
 * (`StartHeader`: the parent's working directory and environment at
 * `start()`, which a spare made earlier must take on, and how many
 * descriptors follow), then the bootstrap's codec bytes (bootstrap.ts).
 */
import type { z } from "zod";
import { ProcessError } from "../errors.ts";
import { isObject, lazySchema, parseMessage } from "./parse.ts";

/** The parent's state at `start()` that the child takes on. */
export interface StartHeader {
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** How many descriptors follow the memfd. */
  readonly fds: number;
}

/** Exactly the shape `startHeaderSchema()` accepts. */
export function isStartHeader(m: unknown): m is StartHeader {
  if (!isObject(m) || typeof m.cwd !== "string" || !Number.isInteger(m.fds) || (m.fds as number) < 0) return false;
  if (!isObject(m.env) || Array.isArray(m.env) || Object.keys(m).length !== 3) return false;
  for (const key in m.env) if (typeof m.env[key] !== "string") return false;
  return true;
}

/** The zod schema of `StartHeader` (built on first use). */
export const startHeaderSchema: () => z.ZodType<StartHeader> = lazySchema((z) =>
  z.strictObject({ cwd: z.string(), env: z.record(z.string(), z.string()), fds: z.number().int().nonnegative() }),
);

/** The memfd's bytes: header length (u32, little-endian), header JSON, bootstrap. */
export function encodeStart(header: StartHeader, bootstrap: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + bootstrap.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(bootstrap, 4 + json.length);
  return out;
}

/**
 * The inverse of `encodeStart`, checked.
 * @throws ProcessError naming what is wrong: the length, the JSON, or the header's bad field
 */
export function decodeStart(bytes: Uint8Array): { header: StartHeader; bootstrap: Uint8Array } {
  if (bytes.length < 4)
    throw new ProcessError(`Malformed start message: ${bytes.length} bytes, fewer than its length word`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (length > bytes.length - 4) {
    throw new ProcessError(`Malformed start message: header length ${length} past its ${bytes.length - 4} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
  } catch (error) {
    throw new ProcessError(`Malformed start message: header: ${(error as Error).message}`, { cause: error });
  }
  const header = parseMessage({ name: "start", is: isStartHeader, schema: startHeaderSchema }, json);
  return { header, bootstrap: bytes.subarray(4 + length) };
}
