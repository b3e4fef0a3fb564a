/** TLS to the broker, passed through to NATS, and mutual TLS (#22 point 5; API.md "Beyond one machine": `tls`). */
import { join } from "node:path";
import { describe, expect, test } from "bun:test";
import { ConfigError, Pool, ProcessError, Queue } from "@multiproc/core";
import { parseWorkerArgs } from "../src/index.ts";
import { parseTlsOptions } from "../src/tls-options.ts";
import { type Broker, runFailingWorker, skipReason, startBroker, tlsFiles, useBrokerAndHosts } from "./broker.ts";
import { pid, square } from "./fixtures/tasks.ts";

const NAME = "tlstest";

/** The broker's token and the test CA as flags of `multiproc worker`. */
function tlsFlags(broker: Broker): string[] {
  return ["--token", broker.token, "--tls-ca", tlsFiles.ca];
}

describe.skipIf(skipReason !== undefined)("cluster over TLS", () => {
  // The flags alone (no environment) give the host its token and the CA.
  const setup = useBrokerAndHosts({ tls: "server", name: NAME, hosts: 1, extra: tlsFlags, env: {} });

  test("Pool with tls: { caFile } and multiproc worker with --tls-ca run a map through a TLS broker", async () => {
    await using pool = Pool({
      cluster: { servers: setup.broker.url, token: setup.broker.token, tls: { caFile: tlsFiles.ca } },
      name: NAME,
    });
    expect(await pool.map(square, [1, 2, 3, 4], 1)).toEqual([1, 4, 9, 16]);
    expect(await pool.apply(pid, [])).not.toBe(process.pid);
  }, 30_000);

  test("Queue with tls: { caFile } puts and gets through a TLS broker", async () => {
    await using producer = Queue<string>({ cluster: setup.broker.cluster, name: "tlsq" });
    await using consumer = Queue<string>({ cluster: setup.broker.cluster, name: "tlsq" });
    await producer.put("a");
    await producer.put("b");
    expect([await consumer.get({ timeout: 5000 }), await consumer.get({ timeout: 5000 })]).toEqual(["a", "b"]);
  }, 30_000);

  test("Pool and Queue without the CA fail at connect with a ConfigError naming the server and the fix", async () => {
    // A long connect timeout: the error must come from the failed handshake, not from waiting.
    const noCa = { servers: setup.broker.url, token: setup.broker.token, connectTimeout: 60_000 };
    await using pool = Pool({ cluster: noCa, name: NAME });
    const error = await pool.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
    expect((error as Error).message).toContain("cluster.tls.caFile");
    await using q = Queue<string>({ cluster: noCa, name: "tlsq" });
    const qError = await q.put("x").catch((e: unknown) => e);
    expect(qError).toBeInstanceOf(ConfigError);
    expect((qError as Error).message).toContain(setup.broker.url);
  }, 20_000);

  test("Pool with a CA that did not sign the server's certificate fails with ConfigError", async () => {
    await using pool = Pool({ cluster: { ...setup.broker.cluster, tls: { caFile: tlsFiles.clientCert } }, name: NAME });
    const error = await pool.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(setup.broker.url);
  }, 20_000);

  test("multiproc worker without --tls-ca exits with a ConfigError naming the server", async () => {
    const { code, stderr } = await runFailingWorker([
      "--servers",
      setup.broker.url,
      "--name",
      NAME,
      "--token",
      setup.broker.token,
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain("ConfigError");
    expect(stderr).toContain(setup.broker.url);
    expect(stderr).toContain("--tls-ca");
  }, 30_000);

  test("Pool with tls on a broker without TLS fails at connect with ConfigError naming the server", async () => {
    const plain = await startBroker();
    try {
      await using pool = Pool({ cluster: { ...plain.cluster, tls: { caFile: tlsFiles.ca } }, name: NAME });
      const error = await pool.apply(square, [2]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(plain.url);
    } finally {
      await plain.stop();
    }
  }, 20_000);
});

describe.skipIf(skipReason !== undefined)("cluster over mutual TLS", () => {
  // The environment gives the host its CA, certificate and key (MULTIPROC_CLUSTER_TLS_*).
  const setup = useBrokerAndHosts({ tls: "mutual", name: NAME, hosts: 1 });

  test("Pool with a client certificate and multiproc worker with MULTIPROC_CLUSTER_TLS_* run a map", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    expect(await pool.map(square, [5, 6, 7], 1)).toEqual([25, 36, 49]);
  }, 30_000);

  test("Pool without a client certificate fails at connect, the error saying a client certificate may be missing", async () => {
    // The broker closes the handshake without a word the NATS client reports, so this waits out connectTimeout.
    await using pool = Pool({
      cluster: {
        servers: setup.broker.url,
        token: setup.broker.token,
        tls: { caFile: tlsFiles.ca },
        connectTimeout: 1000,
      },
      name: NAME,
    });
    const error = await pool.apply(square, [2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessError);
    expect((error as Error).message).toContain(setup.broker.url);
    expect((error as Error).message).toContain("cluster.tls.certFile and keyFile");
  }, 20_000);
});

describe("TLS options", () => {
  test("parseTlsOptions names the bad field of cluster.tls", () => {
    expect(parseTlsOptions({ caFile: tlsFiles.ca })).toEqual({ caFile: tlsFiles.ca });
    expect(parseTlsOptions({})).toEqual({});
    expect(() => parseTlsOptions("ca.pem")).toThrow(/cluster.tls must be an object/);
    expect(() => parseTlsOptions({ cafile: "x" })).toThrow(/Unknown cluster.tls option "cafile"/);
    expect(() => parseTlsOptions({ caFile: 3 })).toThrow(/cluster.tls.caFile must be a non-empty string, got 3/);
    expect(() => parseTlsOptions({ caFile: "/nope/ca.pem" })).toThrow(/cluster.tls.caFile .*does not exist: \/nope/);
    expect(() => parseTlsOptions({ certFile: tlsFiles.clientCert })).toThrow(
      /certificate .* and its key .* go together/,
    );
    expect(() => parseTlsOptions({ handshakeFirst: "yes" })).toThrow(/handshakeFirst must be a boolean/);
  });

  test("Pool with a bad tls option throws ConfigError at the call", () => {
    expect(() => Pool({ cluster: { servers: "nats://h:4222", tls: { caFile: "/nope/ca.pem" } }, name: NAME })).toThrow(
      ConfigError,
    );
  });

  test("multiproc worker --help lists the TLS flags and their environment variables", () => {
    const run = Bun.spawnSync(["bun", join(import.meta.dir, "../bin/multiproc.ts"), "worker", "--help"], {
      timeout: 15_000,
    });
    expect(run.exitCode).toBe(0);
    const help = run.stdout.toString();
    for (const word of ["--tls-ca FILE", "--tls-cert FILE", "--tls-key FILE", "MULTIPROC_CLUSTER_TLS_CA"]) {
      expect(help).toContain(word);
    }
  }, 20_000);

  test("parseWorkerArgs reads the TLS flags, or their environment variables", () => {
    const base = ["--servers", "nats://h:4222", "--name", "n"];
    const flags = ["--tls-ca", tlsFiles.ca, "--tls-cert", tlsFiles.clientCert, "--tls-key", tlsFiles.clientKey];
    const tls = { caFile: tlsFiles.ca, certFile: tlsFiles.clientCert, keyFile: tlsFiles.clientKey };
    expect(parseWorkerArgs([...base, ...flags, "a.ts"], {}).cluster.tls).toEqual(tls);
    const env = {
      MULTIPROC_CLUSTER_TLS_CA: tlsFiles.ca,
      MULTIPROC_CLUSTER_TLS_CERT: tlsFiles.clientCert,
      MULTIPROC_CLUSTER_TLS_KEY: tlsFiles.clientKey,
    };
    expect(parseWorkerArgs([...base, "a.ts"], env).cluster.tls).toEqual(tls);
    expect(parseWorkerArgs([...base, "a.ts"], {}).cluster.tls).toBeUndefined();
    expect(() => parseWorkerArgs([...base, "--tls-ca", "/nope/ca.pem", "a.ts"], {})).toThrow(
      /--tls-ca \(or MULTIPROC_CLUSTER_TLS_CA\) names a file that does not exist: \/nope\/ca.pem/,
    );
    expect(() => parseWorkerArgs([...base, "--tls-cert", tlsFiles.clientCert, "a.ts"], {})).toThrow(
      /--tls-cert and --tls-key go together/,
    );
  });
});
