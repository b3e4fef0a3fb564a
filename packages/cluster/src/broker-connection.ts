/**
 * Connecting to the NATS broker: credentials go to the broker's own auth,
 * and a refusal is a ConfigError naming the server, thrown at connect (#22).
 */
import { type ClusterOptions, ConfigError, ProcessError } from "@multiproc/core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DEFAULT_CONNECT_TIMEOUT } from "./cluster-options.ts";

/** Connects, retrying for ever after the first success (a broker restart is waited out). */
export async function connectBroker(opts: ClusterOptions): Promise<NatsConnection> {
  const servers = typeof opts.servers === "string" ? [opts.servers] : opts.servers;
  try {
    return await connect({
      servers,
      token: opts.token,
      user: opts.user,
      pass: opts.pass,
      tls: opts.tls as never,
      timeout: opts.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: "multiproc",
    });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const name = cause instanceof Error ? cause.name : "";
    if (/Authorization|Authentication|auth/i.test(`${name} ${why}`)) {
      throw new ConfigError(`The NATS server ${servers.join(", ")} refused the credentials: ${why}`, { cause });
    }
    throw new ProcessError(`Cannot connect to the NATS server ${servers.join(", ")}: ${why}`, { cause });
  }
}
