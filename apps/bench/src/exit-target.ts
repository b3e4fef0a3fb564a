/**
 * The floor of a child started back to back with no spare ready (#17 point
 * 7): it loads the start rows' target module (start-target.ts, which imports
 * `Lock` from core), takes the Lock once and ends — at once as a process
 * (`bun exit-target.ts`), at its first message as a Worker. What it costs
 * over a bare `bun -e 0` or Worker is the target's own import of core in a
 * new realm, which no child of that target can skip.
 */
import { lockOnce } from "./start-target.ts";

if (Bun.isMainThread) {
  lockOnce();
} else {
  addEventListener("message", () => {
    lockOnce();
    process.exit(0);
  });
}
