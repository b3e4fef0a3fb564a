/**
 * Test fixtures: a nats-server of the test's own (127.0.0.1, a free port, a
 * temporary store, a token) and `multiproc worker` hosts as child processes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "bun:test";
import type { ClusterOptions, ClusterPool, ClusterTlsOptions } from "@multiproc/core";
import { slowTagged } from "./fixtures/tasks.ts";

/** Why the cluster tests cannot run here, or undefined when they can. */
export const skipReason =
  Bun.which("nats-server") === null
    ? "nats-server is not installed (apt-get install nats-server): the cluster tests of #22 are skipped"
    : undefined;
if (skipReason !== undefined) console.warn(skipReason);

export interface Broker {
  url: string;
  /** The token, or "" for a broker started with a user and password. */
  token: string;
  /** Credentials as a `cluster` option takes them (the token, or the user and password). */
  credentials: { token: string } | { user: string; pass: string };
  /** The client's TLS options, for a broker started with TLS. */
  tls: ClusterTlsOptions | undefined;
  /** The `cluster` option that reaches this broker: its URL, credentials and TLS. */
  cluster: ClusterOptions;
  /** Stops the server (SIGTERM) and starts it again on the same port and store after `downMs`. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

function freePort(address: string): number {
  const server = Bun.listen({ hostname: address, port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** Starts nats-server and waits (at most 5 s) until it accepts connections. */
async function launch(address: string, port: number, dir: string, auth: string[]) {
  const proc = Bun.spawn(["nats-server", "-js", "-a", address, "-p", String(port), "--store_dir", dir, ...auth], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      const socket = await Bun.connect({ hostname: address, port, socket: { data() {} } });
      socket.end();
      return proc;
    } catch {
      if (performance.now() > deadline || proc.exitCode !== null) {
        proc.kill();
        throw new Error(`nats-server did not start on port ${port}: ${await new Response(proc.stderr).text()}`);
      }
      await Bun.sleep(10);
    }
  }
}

/** Test-only certificates (fixtures/tls/README.md): the CA, the broker's (127.0.0.1, localhost), a client's. */
export const tlsFiles = {
  ca: join(import.meta.dir, "fixtures/tls/ca.pem"),
  serverCert: join(import.meta.dir, "fixtures/tls/server.pem"),
  serverKey: join(import.meta.dir, "fixtures/tls/server-key.pem"),
  clientCert: join(import.meta.dir, "fixtures/tls/client.pem"),
  clientKey: join(import.meta.dir, "fixtures/tls/client-key.pem"),
};

export interface BrokerOptions {
  /** Log in with a token (the default) or a user and password. */
  auth?: "token" | "user";
  /** Where it listens: 127.0.0.1 (the default), or a test network's own address. */
  address?: string;
  /** TLS with the test certificate: "server" (the client checks the broker's), "mutual" (the broker checks the client's too). */
  tls?: "server" | "mutual";
}

/** Starts a broker of the test's own. */
export async function startBroker({ auth = "token", address = "127.0.0.1", tls }: BrokerOptions = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), "multiproc-nats-"));
  const secret = `t${crypto.randomUUID().replaceAll("-", "")}`;
  const credentials = auth === "token" ? { token: secret } : { user: "multiproc", pass: secret };
  const args = auth === "token" ? ["--auth", secret] : ["--user", "multiproc", "--pass", secret];
  if (tls !== undefined) args.push("--tls", "--tlscert", tlsFiles.serverCert, "--tlskey", tlsFiles.serverKey);
  if (tls === "mutual") args.push("--tlsverify", "--tlscacert", tlsFiles.ca);
  const port = freePort(address);
  let proc = await launch(address, port, dir, args);
  const url = `nats://${address}:${port}`;
  const clientTls: ClusterTlsOptions | undefined =
    tls === undefined
      ? undefined
      : tls === "server"
        ? { caFile: tlsFiles.ca }
        : { caFile: tlsFiles.ca, certFile: tlsFiles.clientCert, keyFile: tlsFiles.clientKey };
  return {
    url,
    token: auth === "token" ? secret : "",
    credentials,
    tls: clientTls,
    cluster: { servers: url, ...credentials, ...(clientTls && { tls: clientTls }) },
    async restart(downMs: number) {
      proc.kill("SIGTERM");
      await proc.exited;
      await Bun.sleep(downMs);
      proc = await launch(address, port, dir, args);
    },
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The broker's credentials and TLS files as the environment `multiproc worker` reads them from. */
function credentialsEnv(broker: Broker): Record<string, string> {
  const c = broker.credentials;
  const env: Record<string, string> =
    "token" in c
      ? { MULTIPROC_CLUSTER_TOKEN: c.token }
      : { MULTIPROC_CLUSTER_USER: c.user, MULTIPROC_CLUSTER_PASS: c.pass };
  const tls = broker.tls;
  if (tls?.caFile !== undefined) env.MULTIPROC_CLUSTER_TLS_CA = tls.caFile;
  if (tls?.certFile !== undefined) env.MULTIPROC_CLUSTER_TLS_CERT = tls.certFile;
  if (tls?.keyFile !== undefined) env.MULTIPROC_CLUSTER_TLS_KEY = tls.keyFile;
  return env;
}

export interface Host {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

const bin = join(import.meta.dir, "../bin/multiproc.ts");

/**
 * Runs `multiproc worker ARGS test/fixtures/tasks.ts` that is expected to fail
 * at start (killed after 15 s if it does not end); its exit code and stderr.
 */
export async function runFailingWorker(
  args: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn(["bun", bin, "worker", ...args, "test/fixtures/tasks.ts"], {
    cwd: join(import.meta.dir, ".."),
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stderr: await new Response(proc.stderr).text() };
}

/**
 * Starts `multiproc worker` for `name` and waits (at most 15 s) for its "serving" line. The credentials
 * come from the environment, `env` when given (e.g. `{}` when `extra` passes them as flags). `wrap`
 * runs the command inside another (e.g. `ip netns exec NS`, which execs it: the pid stays the host's).
 */
export async function startHost(
  broker: Broker,
  name: string,
  extra: string[] = [],
  env: Record<string, string> = credentialsEnv(broker),
  wrap: string[] = [],
): Promise<Host> {
  const proc = Bun.spawn(
    [
      ...wrap,
      "bun",
      bin,
      "worker",
      "--servers",
      broker.url,
      "--name",
      name,
      "--processes",
      "2",
      ...extra,
      "test/fixtures/tasks.ts",
    ],
    {
      cwd: join(import.meta.dir, ".."),
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const reader = proc.stdout.getReader();
  let out = "";
  const timer = setTimeout(() => proc.kill(), 15_000);
  while (!out.includes("serving")) {
    const { value, done } = await reader.read();
    if (done) {
      clearTimeout(timer);
      throw new Error(`multiproc worker exited before serving (code ${await proc.exited}): ${err}`);
    }
    out += new TextDecoder().decode(value);
  }
  clearTimeout(timer);
  reader.releaseLock();
  return {
    proc,
    stderr: () => err,
    async stop() {
      // A host a test SIGSTOPped handles SIGTERM only once resumed.
      proc.kill("SIGCONT");
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

export interface HostsOptions {
  /** The pool name the hosts serve; without it, no host is started. */
  name?: string;
  /** How many hosts serve `name`; default 2. */
  hosts?: number;
  /** Flags each host gets (e.g. `--ack-wait`), or a function of the broker giving them (e.g. its credentials). */
  extra?: string[] | ((broker: Broker) => string[]);
  /** The hosts' environment instead of the broker's credentials and TLS files (e.g. `{}` when `extra` has them). */
  env?: Record<string, string>;
}

/** The broker and hosts of a `describe`, started in its beforeAll: read them inside tests. */
export interface BrokerAndHosts {
  readonly broker: Broker;
  readonly hosts: Host[];
}

/**
 * Registers a beforeAll that starts a broker of the describe's own and worker hosts serving `name`, and an
 * afterAll that stops them (each within 30 s).
 */
export function useBrokerAndHosts(opts: BrokerOptions & HostsOptions = {}): BrokerAndHosts {
  const { name, hosts: count = 2, extra = [], env, ...brokerOptions } = opts;
  let broker: Broker | undefined;
  const hosts: Host[] = [];
  beforeAll(async () => {
    const b = await startBroker(brokerOptions);
    broker = b;
    if (name === undefined) return;
    const flags = typeof extra === "function" ? extra(b) : extra;
    const started = await Promise.allSettled(Array.from({ length: count }, () => startHost(b, name, flags, env)));
    for (const s of started) if (s.status === "fulfilled") hosts.push(s.value);
    // The hosts that did start are stopped by afterAll.
    for (const s of started) if (s.status === "rejected") throw s.reason;
  }, 30_000);
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await broker?.stop();
  }, 30_000);
  return {
    get broker() {
      if (broker === undefined) throw new Error("The broker is started by beforeAll: read it inside a test");
      return broker;
    },
    hosts,
  };
}

/** Runs small maps until every host has served (their local pools are up), at most 100 rounds. */
export async function warmUp(pool: ClusterPool, hosts: Host[]): Promise<void> {
  const seen = new Set<number>();
  for (let i = 0; i < 100 && seen.size < hosts.length; i++) {
    for (const r of await pool.map(slowTagged, [1, 2, 3, 4, 5, 6, 7, 8], 1)) seen.add(r.host);
  }
  expect(seen).toEqual(new Set(hosts.map((h) => h.proc.pid)));
}
