/**
 * The conformance suite, written once: each backend package's test file calls
 * `conformance(name)`, as CPython's per-start-method test packages do.
 */
import type { BackendName } from "../../src/index.ts";
import { suite } from "./_harness.ts";
import { lockTests } from "./lock.ts";
import { processTests } from "./process.ts";
import { programTests } from "./program.ts";

/** Registers every conformance test for `backend`. */
export function conformance(backend: BackendName): void {
  const s = suite(backend);
  processTests(s);
  lockTests(s);
  programTests(s);
}
