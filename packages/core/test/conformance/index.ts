/**
 * The conformance suite, written once: each backend package's test file calls
 * `conformance(name)`, as CPython's per-start-method test packages do.
 */
import { beforeAll } from "bun:test";
import type { BackendName } from "../../src/index.ts";
import { startWaitHelpers } from "../fixtures/os-resources.ts";
import { suite } from "./harness.ts";
import { arrayTests } from "./array.ts";
import { barrierTests } from "./barrier.ts";
import { conditionTests } from "./condition.ts";
import { eventTests } from "./event.ts";
import { listenerTests } from "./listener.ts";
import { lockTests } from "./lock.ts";
import { managerTests } from "./managers.ts";
import { pipeTests } from "./pipe.ts";
import { poolTests } from "./pool.ts";
import { processTests } from "./process.ts";
import { programTests } from "./program.ts";
import { queueTests } from "./queue.ts";
import { semaphoreTests } from "./semaphore.ts";
import { sharedMemoryTests } from "./shared-memory.ts";
import { valueTests } from "./value.ts";

/** Registers every conformance test for `backend`. */
export function conformance(backend: BackendName): void {
  // Process-long helper threads with descriptors of their own: started before
  // any test counts descriptors, so none sees them start in between.
  beforeAll(startWaitHelpers, 10_000);
  const s = suite(backend);
  processTests(s);
  lockTests(s);
  semaphoreTests(s);
  conditionTests(s);
  eventTests(s);
  barrierTests(s);
  valueTests(s);
  arrayTests(s);
  sharedMemoryTests(s);
  pipeTests(s);
  queueTests(s);
  listenerTests(s);
  managerTests(s);
  poolTests(s);
  programTests(s);
}
