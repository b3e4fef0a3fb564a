/**
 * A `redis-server` of the bench's own for BullMQ (bullmq.ts): Debian's, on
 * 127.0.0.1 and a free port, with no persistence (no RDB snapshots, no AOF)
 * in a temporary directory, killed if the bench is stopped by a signal.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killOnStop } from "./cluster-host.ts";
import { freePort, waitForPort } from "./local-port.ts";

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts redis-server and waits (at most 5 s) until it listens; undefined, with the reason printed, if it is not installed. */
export async function startRedis(): Promise<RedisServer | undefined> {
  if (Bun.which("redis-server") === null) {
    console.error("bench: redis-server is not installed (apt-get install redis-server): no BullMQ rows (#22)");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "multiproc-bench-redis-"));
  const port = await freePort();
  const args = ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "no"];
  const proc = killOnStop(Bun.spawn(["redis-server", ...args], { stdout: "ignore", stderr: "inherit" }));
  const stop = async () => {
    proc.kill();
    await Promise.race([proc.exited, Bun.sleep(5000)]);
    if (proc.exitCode === null) proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 5000, "redis-server");
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}
