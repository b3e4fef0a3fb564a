/**
 * The command line of `multiproc worker`, checked: each mistake names the
 * flag, the value received and what is allowed.
 */
import { backendNames, ConfigError } from "@multiproc/core";
import type { BackendName } from "@multiproc/core";
import { DEFAULT_ACK_WAIT, type WorkerHostOptions } from "./worker-host.ts";

export const USAGE =
  "usage: multiproc worker --servers URL[,URL] --name NAME [--processes N] [--backend fork|spawn|worker] [--ack-wait MS] [--token T | --user U --pass P] MODULE...";

/** `argv` after `worker` as the host's options; credentials default to the environment. @throws ConfigError */
export function parseWorkerArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): WorkerHostOptions {
  const flags = new Map<string, string>();
  const modules: string[] = [];
  const known = ["servers", "name", "processes", "backend", "ack-wait", "token", "user", "pass"];
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
  return {
    cluster: { servers: servers.split(","), token, user, pass },
    name,
    processes,
    backend: backend as BackendName,
    modules,
    ackWait,
  };
}
