/**
 * Joining a batch of children with a deadline: a child that never ends (a
 * start that deadlocked) is killed and reported, so one bad start fails its
 * task instead of hanging the whole benchmark and its exit.
 */
import type { Process } from "@multiproc/core";

/** How long a batch of no-op children may take before it counts as hung (a few seconds even under heavy load). */
export const NO_OP_DEADLINE_MS = 20_000;

/**
 * Joins every child within `timeoutMs` in all; kills those still running.
 * @throws Error naming the killed children, or the children that exited with a non-zero code
 */
export async function joinAll(kids: readonly Process[], timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (const k of kids) await k.join(Math.max(0, deadline - performance.now()));
  const stuck = kids.filter((k) => k.isAlive());
  for (const k of stuck) {
    k.kill();
    await k.join(10_000);
  }
  if (stuck.length > 0) {
    const names = stuck.map((k) => `${k.name} (pid ${k.pid})`).join(", ");
    throw new Error(`Children still running after ${timeoutMs} ms were killed: ${names}`);
  }
  const failed = kids.filter((k) => k.exitCode !== 0);
  if (failed.length > 0) {
    throw new Error(`Children failed: ${failed.map((k) => `${k.name} exit code ${k.exitCode}`).join(", ")}`);
  }
}
