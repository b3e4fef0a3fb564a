/**
 * A fork child's cryptographic randomness. JavaScriptCore's generator behind
 * `crypto.getRandomValues` and `crypto.randomUUID` (and node:crypto's
 * `randomUUID` and `webcrypto`) keeps its state in the process's memory:
 * once the parent used it, every fork child would draw the parent's next
 * values, the same in each sibling. In a fork child these functions draw
 * from node:crypto's `randomFillSync` instead (BoringSSL, which reseeds after
 * a fork). They are replaced once, in the parent before its first fork, by
 * wrappers that keep the runtime's own functions in the parent and switch in
 * a fork child by themselves: the child runs no JavaScript for it (#23; doing
 * it there cost about 35 faults per child). Math.random is reseeded
 * separately (`setRandomSeed`).
 */
import { createRequire, syncBuiltinESMExports } from "node:module";
import { native } from "@multiproc/core/internal";

const require = createRequire(import.meta.url);
// Loaded in the parent: a child that loaded it itself would pay for it at every start.
const nodeCrypto = require("node:crypto") as typeof import("node:crypto");
const webGetRandomValues = crypto.getRandomValues.bind(crypto);
const webRandomUUID = crypto.randomUUID.bind(crypto);

function getRandomValues<T extends ArrayBufferView | null>(array: T): T {
  if (!native.inForkChild()) return webGetRandomValues(array as never) as T;
  const integers =
    array instanceof Int8Array ||
    array instanceof Uint8Array ||
    array instanceof Uint8ClampedArray ||
    array instanceof Int16Array ||
    array instanceof Uint16Array ||
    array instanceof Int32Array ||
    array instanceof Uint32Array ||
    array instanceof BigInt64Array ||
    array instanceof BigUint64Array;
  // Anything the web API refuses, it refuses itself, with its own errors.
  if (!integers) return webGetRandomValues(array as never) as T;
  nodeCrypto.randomFillSync(array);
  return array;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function randomUUID(): `${string}-${string}-${string}-${string}-${string}` {
  if (!native.inForkChild()) return webRandomUUID();
  const b = nodeCrypto.randomFillSync(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const h = Array.from(b, (x) => HEX[x]!);
  return `${h.slice(0, 4).join("")}-${h.slice(4, 6).join("")}-${h.slice(6, 8).join("")}-${h.slice(8, 10).join("")}-${h.slice(10).join("")}`;
}

let installed = false;

/**
 * In the parent, before its first fork: from now on the crypto functions of
 * a fork child (this process's, and its children's) do not share their
 * parent's generator state. The parent's own draws are unchanged.
 */
export function separateCryptoRandom(): void {
  if (installed) return;
  installed = true;
  crypto.getRandomValues = getRandomValues;
  crypto.randomUUID = randomUUID;
  const mutable = nodeCrypto as { randomUUID: typeof randomUUID; getRandomValues: typeof getRandomValues };
  mutable.randomUUID = randomUUID;
  mutable.getRandomValues = getRandomValues;
  // `import { randomUUID } from "node:crypto"` reads the module's ES exports: bring them up to date
  // (a binding made before this keeps the runtime's function: docs/fork.md, "Random numbers").
  syncBuiltinESMExports();
}
