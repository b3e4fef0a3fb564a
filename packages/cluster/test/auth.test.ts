/** User and password credentials go to the broker's own auth; a wrong password fails at connect (#22 point 5). */
import { describe, expect, test } from "bun:test";
import { ConfigError, Pool } from "@multiproc/core";
import { type Broker, runFailingWorker, skipReason, useBrokerAndHosts } from "./broker.ts";
import { pid, square } from "./fixtures/tasks.ts";

const NAME = "authtest";

/** The broker's user and password as flags of `multiproc worker`. */
function credentialFlags(broker: Broker): string[] {
  const { user, pass } = broker.credentials as { user: string; pass: string };
  return ["--user", user, "--pass", pass];
}

describe.skipIf(skipReason !== undefined)("cluster with user and password", () => {
  // The flags alone (no environment) log the host in.
  const setup = useBrokerAndHosts({ auth: "user", name: NAME, hosts: 1, extra: credentialFlags, env: {} });
  const login = () => setup.broker.credentials as { user: string; pass: string };

  test("Pool and multiproc worker log in with user and password and run tasks", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    expect(await pool.map(square, [1, 2, 3], 1)).toEqual([1, 4, 9]);
    // The task ran on the worker host's local pool, not in this process.
    const ran = await pool.apply(pid, []);
    expect(ran).not.toBe(process.pid);
  }, 30_000);

  test("multiproc worker with a wrong --pass exits with a ConfigError naming the server", async () => {
    const { user, pass } = login();
    const { code, stderr: err } = await runFailingWorker(
      ["--servers", setup.broker.url, "--name", NAME, "--user", user, "--pass", "wrong"],
      // The right password in the environment: the flag wins over it.
      { ...process.env, MULTIPROC_CLUSTER_USER: user, MULTIPROC_CLUSTER_PASS: pass },
    );
    expect(code).toBe(2);
    expect(err).toContain("ConfigError");
    expect(err).toContain(setup.broker.url);
  }, 30_000);

  test("Pool with a wrong password fails with ConfigError naming the server", async () => {
    await using p = Pool({ cluster: { servers: setup.broker.url, user: login().user, pass: "wrong" }, name: NAME });
    const error = await p.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
    expect((error as Error).message).toContain("refused the credentials");
  }, 30_000);

  test("Pool with no credentials on a user/password broker fails with ConfigError naming the server", async () => {
    await using p = Pool({ cluster: { servers: setup.broker.url }, name: NAME });
    const error = await p.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
  }, 30_000);
});
