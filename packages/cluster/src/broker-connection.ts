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
      tls: opts.tls,
      timeout: opts.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: "multiproc",
    });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const name = cause instanceof Error ? cause.name : "";
    // TLS first: a certificate error's text may say "authority", which is no credentials matter.
    const tls = tlsMismatch(cause, opts);
    if (tls !== undefined)
      throw new ConfigError(`TLS to the NATS server ${servers.join(", ")} failed: ${tls}`, { cause });
    if (/Authorization|Authentication|auth/i.test(`${name} ${why}`)) {
      throw new ConfigError(`The NATS server ${servers.join(", ")} refused the credentials: ${why}`, { cause });
    }
    // A server that requires a client certificate closes a TLS connection without one, and the NATS client
    // then waits out its timeout: say so, as that wait alone does not tell.
    const hint =
      opts.tls !== undefined && opts.tls.certFile === undefined && opts.tls.cert === undefined && /timeout/i.test(why)
        ? " (if the server verifies its clients, give a client certificate: cluster.tls.certFile and keyFile)"
        : "";
    throw new ProcessError(`Cannot connect to the NATS server ${servers.join(", ")}: ${why}${hint}`, { cause });
  }
}

/**
 * What went wrong when TLS did, and what would be right; undefined for another failure. A certificate the
 * client cannot verify, and TLS asked of a server without it, are settings, so they are not retried.
 */
function tlsMismatch(cause: unknown, opts: ClusterOptions): string | undefined {
  if (!(cause instanceof Error)) return undefined;
  const code = (cause as Error & { code?: unknown }).code;
  if (typeof code === "string" && /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED/.test(code)) {
    const fix =
      opts.tls?.caFile === undefined && opts.tls?.ca === undefined
        ? "give the CA that signed the server's certificate as cluster.tls.caFile (--tls-ca for multiproc worker)"
        : "cluster.tls.caFile (--tls-ca) must be the CA that signed the server's certificate, for the host name in the URL";
    return `${cause.message} (${code}); ${fix}`;
  }
  if (/does not support 'tls'|tls.*not available/i.test(cause.message)) {
    return `${cause.message}; connect without cluster.tls, or start the server with TLS`;
  }
  return undefined;
}
