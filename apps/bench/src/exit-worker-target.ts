/**
 * A Worker that loads the start rows' target module (start-target.ts, which
 * imports `Lock` from core) and exits at its first message: the floor of a
 * worker child started back to back, with no spare ready (#17 point 7). What
 * it costs over "Bun Worker, exits" is the target's own import of core in a
 * new realm, which no child of that target can skip.
 */
import { lockOnce } from "./start-target.ts";

addEventListener("message", () => {
  lockOnce();
  process.exit(0);
});
