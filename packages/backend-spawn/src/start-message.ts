/**
 * What a spawn child is given at `start()`: one byte on its descriptor 3 (a
 * unix socket), carrying descriptors: a memfd with the message, then the
 * descriptors of `LaunchRequest.fds` (more bytes follow when they are more
 * than one message carries). The memfd holds a header (JSON: the parent's
 * working directory and environment at `start()`, which a spare process made
 * earlier must take on, and how many descriptors come) and the bootstrap
 * bytes. A file of its own: the child entry reads it without loading the
 * parent's side.
 */

/** The child's end of the socket. */
export const START_FD = 3;

/** The parent's state at `start()` that the child takes on. */
export interface StartHeader {
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** How many descriptors follow the memfd. */
  readonly fds: number;
}

/** The memfd's bytes: header length (u32, little-endian), header JSON, bootstrap. */
export function encodeStart(header: StartHeader, bootstrap: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + bootstrap.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(bootstrap, 4 + json.length);
  return out;
}

/** The inverse of `encodeStart`. */
export function decodeStart(bytes: Uint8Array): { header: StartHeader; bootstrap: Uint8Array } {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as StartHeader;
  return { header, bootstrap: bytes.subarray(4 + length) };
}
