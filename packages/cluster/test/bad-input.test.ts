/** Foreign and malformed messages on the task subject, and wrong credentials (#22 point 5). */
import { describe, expect, test } from "bun:test";
import { ConfigError, Pool } from "@multiproc/core";
import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { parseWorkerArgs } from "../src/index.ts";
import { runFailingWorker, skipReason, useBrokerAndHosts } from "./broker.ts";
import { square } from "./fixtures/tasks.ts";

const NAME = "badinput";

describe.skipIf(skipReason !== undefined)("multiproc worker and bad input", () => {
  const setup = useBrokerAndHosts({ name: NAME, hosts: 1 });

  test("multiproc worker refuses and counts foreign and malformed tasks, never imports them, and goes on", async () => {
    const host = setup.hosts[0]!;
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    expect(await pool.apply(square, [3])).toBe(9); // The streams exist now.
    const nc = await connect({ servers: setup.broker.url, token: setup.broker.token });
    const js = jetstream(nc);
    const subject = `multiproc.${NAME}.tasks`;
    const task = (fn: string, reply = `multiproc.${NAME}.results.abc`) => {
      const h = headers();
      h.set("Multiproc-Task", "abc.1");
      h.set("Multiproc-Reply", reply);
      h.set("Multiproc-Fn", fn);
      h.set("Multiproc-Kind", "apply");
      return h;
    };
    await js.publish(subject, new TextEncoder().encode("hello, not a task"));
    await js.publish(subject, new Uint8Array([1, 2, 3]), { headers: task("test/fixtures/not-served.ts#secret") });
    await js.publish(subject, new Uint8Array(), { headers: task("../../etc/x.ts#y") });
    await js.publish(subject, new Uint8Array([0xff, 0x00, 0x13]), { headers: task("test/fixtures/tasks.ts#square") });
    await js.publish(subject, new Uint8Array(), { headers: task("test/fixtures/tasks.ts#square", "elsewhere.x") });
    await nc.close();
    // The host went on: a real task still runs.
    expect(await pool.map(square, [1, 2, 3])).toEqual([1, 4, 9]);
    const deadline = performance.now() + 10_000;
    while (!host.stderr().includes("5 refused so far") && performance.now() < deadline) await Bun.sleep(20);
    const log = host.stderr();
    expect(log).toContain("5 refused so far");
    expect(log).toContain("test/fixtures/not-served.ts#secret is not exported by the modules this worker serves");
    expect(log).toContain("header fn");
    expect(log).toContain("undecodable body");
    expect(log).toContain("header reply");
    expect(log).not.toContain("not-served.ts was imported");
  }, 30_000);

  test("multiproc worker with a wrong token exits with a ConfigError naming the server", async () => {
    const { code, stderr: err } = await runFailingWorker([
      "--servers",
      setup.broker.url,
      "--name",
      NAME,
      "--token",
      "wrong",
    ]);
    expect(code).toBe(2);
    expect(err).toContain("ConfigError");
    expect(err).toContain(setup.broker.url);
  }, 30_000);

  test("Pool with a wrong token fails with ConfigError naming the server", async () => {
    await using p = Pool({ cluster: { servers: setup.broker.url, token: "wrong" }, name: NAME });
    const error = await p.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
  });
});

describe("parseWorkerArgs", () => {
  const base = ["--servers", "nats://h:4222", "--name", "n"];
  test("parseWorkerArgs reads flags, modules and credentials from the environment", () => {
    const opts = parseWorkerArgs([...base, "--processes=3", "--backend", "fork", "--ack-wait", "500", "a.ts", "b.ts"], {
      MULTIPROC_CLUSTER_TOKEN: "tok",
    });
    expect(opts).toMatchObject({ name: "n", processes: 3, backend: "fork", ackWait: 500, modules: ["a.ts", "b.ts"] });
    expect(opts.cluster).toEqual({ servers: ["nats://h:4222"], token: "tok", user: undefined, pass: undefined });
  });
  test("parseWorkerArgs names the bad flag", () => {
    expect(() => parseWorkerArgs([...base, "--nope", "1", "a.ts"], {})).toThrow(/Unknown flag --nope/);
    expect(() => parseWorkerArgs([...base, "--backend", "thread", "a.ts"], {})).toThrow(/--backend must be one of/);
    expect(() => parseWorkerArgs([...base, "--processes", "0", "a.ts"], {})).toThrow(/--processes must be/);
    expect(() => parseWorkerArgs(base, {})).toThrow(/at least one MODULE/);
    expect(() => parseWorkerArgs(["--name", "n", "a.ts"], {})).toThrow(/--servers is required/);
    expect(() => parseWorkerArgs([...base, "--user", "u", "a.ts"], {})).toThrow(/--user and --pass/);
  });
});
