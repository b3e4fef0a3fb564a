/**
 * Tasks of the cluster failover figure (cluster-failover.ts), served by
 * `multiproc worker` hosts: the parent of a host's local spawn worker is the
 * host, so a task knows which host runs it.
 */

/** How long a task stalls on the host about to be killed: far past any sample. */
const STALL_MS = 20_000;

/** The pid of the worker host running this task. */
export function hostOf(): number {
  return process.ppid;
}

/** x at once, except on the host `victim`, where it stalls (that host holds its tasks until it is killed). */
export async function stallOn(victim: number, x: number): Promise<number> {
  if (process.ppid === victim) await Bun.sleep(STALL_MS);
  return x;
}
