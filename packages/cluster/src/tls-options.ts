/**
 * The `cluster.tls` option checked where it is passed: the NATS client's TLS
 * fields only, each of its type, files that exist, a certificate with its key.
 * A missing file found at connect would be a late, vaguer error.
 */
import { existsSync } from "node:fs";
import { type ClusterTlsOptions, ConfigError } from "@multiproc/core";

const FILES = ["caFile", "certFile", "keyFile"] as const;
const TEXTS = ["ca", "cert", "key"] as const;
const KNOWN: readonly string[] = [...FILES, ...TEXTS, "handshakeFirst"];

/** @throws ConfigError naming the bad field of `cluster.tls` and what is allowed */
export function parseTlsOptions(value: unknown): ClusterTlsOptions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      `cluster.tls must be an object such as { caFile: "ca.pem" } ({} for TLS with the system's CAs), got ${JSON.stringify(value) ?? typeof value}`,
    );
  }
  const tls = value as Record<string, unknown>;
  for (const key of Object.keys(tls)) {
    if (!KNOWN.includes(key))
      throw new ConfigError(`Unknown cluster.tls option "${key}"; the options are ${KNOWN.join(", ")}`);
  }
  for (const field of [...FILES, ...TEXTS]) {
    const v = tls[field];
    if (v !== undefined && (typeof v !== "string" || v === ""))
      throw new ConfigError(`cluster.tls.${field} must be a non-empty string, got ${JSON.stringify(v) ?? typeof v}`);
  }
  for (const field of FILES) {
    const path = tls[field] as string | undefined;
    if (path !== undefined && !existsSync(path))
      throw new ConfigError(`cluster.tls.${field} names a file that does not exist: ${path}`);
  }
  if (tls.handshakeFirst !== undefined && typeof tls.handshakeFirst !== "boolean") {
    throw new ConfigError(`cluster.tls.handshakeFirst must be a boolean, got ${JSON.stringify(tls.handshakeFirst)}`);
  }
  const hasCert = tls.certFile !== undefined || tls.cert !== undefined;
  const hasKey = tls.keyFile !== undefined || tls.key !== undefined;
  if (hasCert !== hasKey) {
    throw new ConfigError(
      "cluster.tls: a client certificate (certFile or cert) and its key (keyFile or key) go together: give both or neither",
    );
  }
  return tls as ClusterTlsOptions;
}
