/**
 * A byte array whose contents are left as the allocator had them: for a
 * received message that the reader overwrites in full before anyone sees it.
 *
 * Issue #18 point 12: a 64 KiB round trip allocates one message array in each
 * process, and `new Uint8Array(n)` zero-fills it and goes through the GC
 * heap's large-object path: timed inside the reader, the allocation cost 12–20
 * µs per round trip against 8–10 µs for this (Buffer.allocUnsafeSlow: its own
 * ArrayBuffer, malloc'd, not zeroed, not from Buffer's shared pool).
 */
export function unfilledBytes(length: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(length);
  // A plain Uint8Array over it: callers get what `new Uint8Array` gives
  // (Buffer's slice() shares memory where Uint8Array's copies).
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
