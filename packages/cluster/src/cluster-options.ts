/**
 * The `cluster` option (API.md "Beyond one machine"): where the broker is and
 * how to log in, checked where it is passed.
 */
import { type ClusterOptions, ConfigError } from "@multiproc/core";
import { parseTlsOptions } from "./tls-options.ts";

const KNOWN = ["servers", "token", "user", "pass", "tls", "connectTimeout"];

/** Default longest wait for the first connection, in ms. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** @throws ConfigError naming the bad field and what is allowed */
export function parseClusterOptions(value: unknown): ClusterOptions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      `The cluster option must be an object such as { servers: "nats://host:4222" }, got ${what(value)}`,
    );
  }
  const opts = value as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!KNOWN.includes(key))
      throw new ConfigError(`Unknown cluster option "${key}"; the options are ${KNOWN.join(", ")}`);
  }
  const { servers, token, user, pass, tls, connectTimeout } = opts;
  const list = typeof servers === "string" ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === "string" && s !== "")) {
    throw new ConfigError(
      `cluster.servers must be a URL such as "nats://host:4222" or a non-empty array of them, got ${what(servers)}`,
    );
  }
  for (const [field, v] of [
    ["token", token],
    ["user", user],
    ["pass", pass],
  ] as const) {
    if (v !== undefined && typeof v !== "string")
      throw new ConfigError(`cluster.${field} must be a string, got ${what(v)}`);
  }
  if ((user === undefined) !== (pass === undefined)) {
    throw new ConfigError("cluster.user and cluster.pass go together: give both or neither");
  }
  if (tls !== undefined) parseTlsOptions(tls);
  if (connectTimeout !== undefined && !(typeof connectTimeout === "number" && connectTimeout > 0)) {
    throw new ConfigError(`cluster.connectTimeout must be a number of ms > 0, got ${what(connectTimeout)}`);
  }
  return opts as unknown as ClusterOptions;
}

function what(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `the array ${JSON.stringify(value)}`;
  return typeof value === "string" ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}
