/**
 * The command line of `multiproc worker`, checked: each mistake names the
 * flag, the value received and what is allowed.
 */
import { existsSync } from "node:fs";
import { backendNames, ConfigError } from "@multiproc/core";
import type { BackendName, ClusterTlsOptions } from "@multiproc/core";
import { DEFAULT_ACK_WAIT, type WorkerHostOptions } from "./worker-host.ts";

export const USAGE =
  "usage: multiproc worker --servers URL[,URL] --name NAME [--processes N] [--backend fork|spawn|worker] [--ack-wait MS] [--token T | --user U --pass P] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] MODULE...";

/** `multiproc --help`: every flag, and the environment variables that stand in for the secret ones. */
export const HELP = `${USAGE}

Serves the tasks of the cluster Pool named NAME from a local Pool, running only functions exported by MODULE...,
until SIGINT or SIGTERM (then it finishes the tasks it holds).

  --servers URL[,URL]   the NATS JetStream broker, e.g. nats://host:4222
  --name NAME           the pool's name, as the app gives it to Pool({ cluster, name })
  --processes N         local processes (default: the number of CPUs)
  --backend B           fork, spawn or worker (default: spawn)
  --ack-wait MS         how long a dead host keeps its tasks from the others (default: 30000)
  --token T             the broker's token (or MULTIPROC_CLUSTER_TOKEN)
  --user U --pass P     the broker's user and password (or MULTIPROC_CLUSTER_USER, MULTIPROC_CLUSTER_PASS)
  --tls-ca FILE         the CA that signed the broker's certificate, for TLS (or MULTIPROC_CLUSTER_TLS_CA)
  --tls-cert FILE       a client certificate, for a broker that verifies clients (or MULTIPROC_CLUSTER_TLS_CERT)
  --tls-key FILE        that certificate's key (or MULTIPROC_CLUSTER_TLS_KEY)
  --help                this text`;

/** `argv` after `worker` as the host's options; credentials default to the environment. @throws ConfigError */
export function parseWorkerArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): WorkerHostOptions {
  const flags = new Map<string, string>();
  const modules: string[] = [];
  const known = [
    "servers",
    "name",
    "processes",
    "backend",
    "ack-wait",
    "token",
    "user",
    "pass",
    "tls-ca",
    "tls-cert",
    "tls-key",
  ];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      modules.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(flag)) throw new ConfigError(`Unknown flag --${flag}; ${USAGE}`);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === "") throw new ConfigError(`--${flag} needs a value; ${USAGE}`);
    flags.set(flag, value);
  }
  const servers = flags.get("servers");
  if (servers === undefined) throw new ConfigError(`--servers is required (e.g. nats://host:4222); ${USAGE}`);
  const name = flags.get("name");
  if (name === undefined) throw new ConfigError(`--name is required; ${USAGE}`);
  if (modules.length === 0)
    throw new ConfigError(`Give at least one MODULE whose exported functions the worker runs; ${USAGE}`);
  const processes = Number(flags.get("processes") ?? navigator.hardwareConcurrency);
  if (!Number.isInteger(processes) || processes < 1) {
    throw new ConfigError(`--processes must be an integer >= 1, got ${flags.get("processes")}`);
  }
  const backend = flags.get("backend") ?? "spawn";
  if (!(backendNames as readonly string[]).includes(backend)) {
    throw new ConfigError(`--backend must be one of ${backendNames.join(", ")}, got ${backend}`);
  }
  const ackWait = Number(flags.get("ack-wait") ?? DEFAULT_ACK_WAIT);
  if (!Number.isFinite(ackWait) || ackWait < 100) {
    throw new ConfigError(`--ack-wait must be a number of ms >= 100, got ${flags.get("ack-wait")}`);
  }
  const token = flags.get("token") ?? env.MULTIPROC_CLUSTER_TOKEN;
  const user = flags.get("user") ?? env.MULTIPROC_CLUSTER_USER;
  const pass = flags.get("pass") ?? env.MULTIPROC_CLUSTER_PASS;
  if ((user === undefined) !== (pass === undefined))
    throw new ConfigError("--user and --pass go together: give both or neither");
  const tls = tlsFlags(flags, env);
  return {
    cluster: { servers: servers.split(","), token, user, pass, ...(tls && { tls }) },
    name,
    processes,
    backend: backend as BackendName,
    modules,
    ackWait,
  };
}

/** The TLS flags (or their environment variables) as `cluster.tls`, or undefined when none is given. */
function tlsFlags(flags: Map<string, string>, env: Record<string, string | undefined>): ClusterTlsOptions | undefined {
  const file = (flag: string, variable: string): string | undefined => {
    const path = flags.get(flag) ?? env[variable];
    if (path !== undefined && !existsSync(path)) {
      throw new ConfigError(`--${flag} (or ${variable}) names a file that does not exist: ${path}`);
    }
    return path;
  };
  const caFile = file("tls-ca", "MULTIPROC_CLUSTER_TLS_CA");
  const certFile = file("tls-cert", "MULTIPROC_CLUSTER_TLS_CERT");
  const keyFile = file("tls-key", "MULTIPROC_CLUSTER_TLS_KEY");
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  if (caFile === undefined && certFile === undefined) return undefined;
  return { caFile, certFile, keyFile };
}
