/**
 * The shape of a Pool across hosts (`Pool({ cluster, name })`): the options
 * core recognises and the interface `@multiproc/cluster` implements, so core
 * types the call without depending on the package (#22).
 */
import type { Pool } from "./pool.ts";

/** Where the broker is and how to log in; passed to NATS as given (API.md "Beyond one machine"). */
export interface ClusterOptions {
  /** One URL or several, e.g. `"nats://host:4222"`. */
  servers: string | string[];
  token?: string;
  user?: string;
  pass?: string;
  /** TLS to the broker, passed to the NATS client's `tls` option; `{}` asks for TLS with the system's CAs. */
  tls?: ClusterTlsOptions;
  /** Longest wait for the first connection, in ms; default 10000. */
  connectTimeout?: number;
}

/**
 * The NATS client's TLS options: the broker's CA when it is not one the system trusts, and a client
 * certificate for a broker that verifies its clients (mutual TLS). Each is a file path or PEM text.
 */
export interface ClusterTlsOptions {
  caFile?: string;
  ca?: string;
  certFile?: string;
  cert?: string;
  keyFile?: string;
  key?: string;
  /** TLS before the server's first message; the server must be configured with `handshake_first`. */
  handshakeFirst?: boolean;
}

/** Options of a Pool whose workers are `multiproc worker` hosts serving `name`. */
export interface ClusterPoolOptions {
  cluster: ClusterOptions;
  /** The pool's name, shared by callers and workers: letters, digits, `_` and `-`. */
  name: string;
}

/**
 * A Pool whose tasks run on other hosts: the local Pool's methods and
 * semantics. The `Sync` forms exist and throw ConfigError naming the async
 * form, as waiting on the network must not block the event loop that reads it.
 */
export interface ClusterPool
  extends Pick<
      Pool,
      "applyAsync" | "apply" | "mapAsync" | "map" | "starmapAsync" | "starmap" | "imap" | "imapUnordered"
    >,
    AsyncDisposable,
    Disposable {
  /** @throws ConfigError: use `apply` */
  applySync(fn: (...args: never[]) => unknown, args?: unknown[]): never;
  /** @throws ConfigError: use `map` */
  mapSync(fn: (item: never) => unknown, iterable: Iterable<unknown>, chunksize?: number): never;
  /** @throws ConfigError: use `starmap` */
  starmapSync(fn: (...args: never[]) => unknown, iterable: Iterable<unknown[]>, chunksize?: number): never;
  /** Accepts no more work; `join` then waits for the results of what was sent. */
  close(): void;
  /** Fails every task not finished with ProcessError and disconnects. */
  terminate(): void;
  /** Waits for every result, then disconnects; call `close()` or `terminate()` first. */
  join(): Promise<void>;
  /** @throws ConfigError: use `join` */
  joinSync(): never;
}
