/**
 * The shape of a Queue across hosts (`Queue({ cluster, name, maxsize })`):
 * the options core recognises and the interface `@multiproc/cluster`
 * implements, so core types the call without depending on the package (#22).
 */
import type { ClusterOptions } from "../pool/cluster-pool.ts";

/** Options of a Queue kept by a NATS JetStream broker and shared by every process that names it. */
export interface ClusterQueueOptions {
  cluster: ClusterOptions;
  /** The queue's name: letters, digits, `_` and `-`. */
  name: string;
  /** Most items the queue holds; 0 or none for no limit. Every user of the name must give the same. */
  maxsize?: number;
  /**
   * How long an item taken by a getter that died before it returned the item
   * stays hidden from the other getters, in ms (default 30 000, at least
   * 100). Every user of the name must give the same.
   */
  ackWait?: number;
}

/** How long `put` and `get` may wait (Python: `block`, `timeout`). */
export interface ClusterQueueWait {
  block?: boolean;
  timeout?: number;
}

/**
 * Python's Queue across hosts. `put` and `get` (and their `block: false`
 * forms, Python's `put_nowait`/`get_nowait`) reach the broker, so they are
 * async only: the `Sync` and `Nowait` forms, `qsize`, `empty` and `full`
 * throw ConfigError naming the async form to use.
 */
export interface ClusterQueue<T = unknown> extends AsyncDisposable {
  /** @throws Full when the queue stays full (at once without `block`, else after `timeout` ms); PicklingError at the call */
  put(obj: T, opts?: ClusterQueueWait): Promise<void>;
  /** @throws Empty when no item comes (at once without `block`, else after `timeout` ms) */
  get(opts?: ClusterQueueWait): Promise<T>;
  /** Items in the queue now, as the broker counts them (Python: `qsize`). */
  qsizeAsync(): Promise<number>;
  /** @throws ConfigError: use `await put(obj)` */
  putSync(obj: T, opts?: ClusterQueueWait): never;
  /** @throws ConfigError: use `await get()` */
  getSync(opts?: ClusterQueueWait): never;
  /** @throws ConfigError: use `await put(obj, { block: false })` */
  putNowait(obj: T): never;
  /** @throws ConfigError: use `await get({ block: false })` */
  getNowait(): never;
  /** @throws ConfigError: use `await qsizeAsync()` */
  qsize(): never;
  /** @throws ConfigError: use `(await qsizeAsync()) === 0` */
  empty(): never;
  /** @throws ConfigError: use `await put(obj, { block: false })` and catch Full */
  full(): never;
  /** Disconnects; the items stay in the broker for the queue's other users. */
  close(): Promise<void>;
}
