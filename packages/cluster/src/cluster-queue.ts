/**
 * Queue({ cluster, name, maxsize }): Python's Queue across hosts (#22). The
 * items live in a JetStream work-queue stream (`MULTIPROC_Q_<name>`, subject
 * `multiproc.q.<name>`) whose `max_msgs` is the maxsize with discard-new, so
 * the broker itself refuses a put beyond it (Full). Every getter shares one
 * durable pull consumer with explicit acks: an item is removed when its
 * getter's ack is confirmed, so a getter that dies before that leaves the
 * item to the others after the ack wait (option `ackWait`). A producer's
 * puts are stored in the order its awaited `put` calls returned (FIFO per
 * producer).
 */
import { ConfigError, type ClusterOptions, Empty, Full, ProcessError } from "@multiproc/core";
import {
  type ClusterQueue,
  type ClusterQueueOptions,
  type ClusterQueueWait,
  checkTimeout,
  dumps,
  loads,
} from "@multiproc/core/internal";
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  type JsMsg,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBroker } from "./broker-connection.ts";
import { parseClusterOptions } from "./cluster-options.ts";
import { checkClusterName } from "./pool-name.ts";
import { addIfMissing } from "./streams.ts";

/** Wait between two tries of a put on a full queue, or of a call the broker failed, in ms. */
const RETRY_MS = 50;
/** Longest a put or get keeps trying while the broker fails it (a restart takes less), in ms. */
const RETRY_WINDOW_MS = 30_000;
/** Longest single pull of a blocking get; it pulls again until its timeout. */
const PULL_MS = 5_000;
/** Shortest pull the broker accepts for a get that must not wait. */
const MIN_PULL_MS = 1_000;
/** How long a getter that died keeps an item from the others by default, in ms. */
const ACK_WAIT = 30_000;
/** Shortest ack wait: a getter must have time to ack an item it took. */
const MIN_ACK_WAIT = 100;

interface Link {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

function refused(sync: string, async: string): never {
  throw new ConfigError(`A cluster Queue has no synchronous ${sync}: the queue is in the broker; use ${async}`);
}

/**
 * The message of `pull` if it comes within `ms`, else null; one that comes
 * later is handed back at once (nak) for the next getter.
 */
async function within(pull: Promise<JsMsg | null>, ms: number): Promise<JsMsg | null> {
  let late = false;
  let timer: Timer | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      resolve(null);
    }, ms);
  });
  const m = await Promise.race([pull, timeout]);
  clearTimeout(timer);
  if (late) void pull.then((msg) => msg?.nak()).catch(() => {});
  return m;
}

export class ClusterQueueImpl<T> implements ClusterQueue<T> {
  readonly #name: string;
  readonly #stream: string;
  readonly #subject: string;
  readonly #link: Promise<Link>;
  #closed = false;

  /** @throws ConfigError for a bad option */
  constructor(opts: ClusterQueueOptions) {
    for (const key of Object.keys(opts)) {
      if (!["cluster", "name", "maxsize", "ackWait"].includes(key)) {
        throw new ConfigError(
          `Unknown option "${key}" of a cluster Queue; the options are cluster, name, maxsize, ackWait`,
        );
      }
    }
    const cluster: ClusterOptions = parseClusterOptions(opts.cluster);
    this.#name = checkClusterName(opts.name, "queue");
    const maxsize = opts.maxsize ?? 0;
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      throw new ConfigError(`Queue option maxsize must be an integer >= 0 (0: no limit), got ${String(maxsize)}`);
    }
    const ackWait = opts.ackWait ?? ACK_WAIT;
    if (!Number.isInteger(ackWait) || ackWait < MIN_ACK_WAIT) {
      throw new ConfigError(
        `Queue option ackWait must be an integer number of ms >= ${MIN_ACK_WAIT}, got ${String(opts.ackWait)}`,
      );
    }
    this.#stream = `MULTIPROC_Q_${this.#name}`;
    this.#subject = `multiproc.q.${this.#name}`;
    this.#link = this.#open(cluster, maxsize, ackWait);
    this.#link.catch(() => {}); // Reported by the first put or get.
  }

  async #open(cluster: ClusterOptions, maxsize: number, ackWait: number): Promise<Link> {
    const nc = await connectBroker(cluster);
    try {
      const jsm = await jetstreamManager(nc);
      const max = maxsize === 0 ? -1 : maxsize;
      const info = await addIfMissing(jsm, this.#stream, () =>
        jsm.streams.add({
          name: this.#stream,
          subjects: [this.#subject],
          retention: RetentionPolicy.Workqueue,
          max_msgs: max,
          discard: DiscardPolicy.New,
        }),
      );
      if (info.config.max_msgs !== max) {
        throw new ConfigError(
          `Queue "${this.#name}" exists with maxsize ${Math.max(info.config.max_msgs, 0)}, not ${maxsize}: every user of a cluster Queue must give the same maxsize`,
        );
      }
      const wanted = ackWait * 1e6; // ns
      // Looked up first: adding it again with another ack wait would change it for every user.
      const consumer =
        (await jsm.consumers.info(this.#stream, "getters").catch(() => undefined)) ??
        (await jsm.consumers
          .add(this.#stream, { durable_name: "getters", ack_policy: AckPolicy.Explicit, ack_wait: wanted })
          .catch(async (error) => {
            // Another user created it first.
            return await jsm.consumers.info(this.#stream, "getters").catch(() => {
              throw error;
            });
          }));
      if (consumer.config.ack_wait !== wanted) {
        throw new ConfigError(
          `Queue "${this.#name}" exists with ackWait ${Math.round((consumer.config.ack_wait ?? 0) / 1e6)} ms, not ${ackWait}: every user of a cluster Queue must give the same ackWait`,
        );
      }
      return { nc, js: jetstream(nc), jsm };
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new ProcessError(`Cannot ${what} on a closed Queue`);
  }

  async put(obj: T, opts?: ClusterQueueWait): Promise<void> {
    this.#checkOpen("put");
    const block = opts?.block ?? true;
    const timeout = checkTimeout(opts?.timeout, "Queue.put");
    const body = dumps(obj, { path: "obj" }); // At the call: PicklingError names the bad part.
    const { nc, js } = await this.#link;
    const deadline = !block ? 0 : timeout === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeout;
    let failingSince: number | undefined;
    for (;;) {
      try {
        await js.publish(this.#subject, body);
        return;
      } catch (error) {
        const full = /maximum messages exceeded/i.test(String((error as Error)?.message));
        if (nc.isClosed()) throw error;
        if (full && performance.now() >= deadline) {
          throw new Full(`Queue "${this.#name}" is full`, { cause: error });
        }
        // Full with time left, or the broker away (a restart): try again.
        if (!full) failingSince ??= performance.now();
        if (!full && performance.now() - (failingSince ?? 0) > RETRY_WINDOW_MS) throw error;
        await Bun.sleep(RETRY_MS);
      }
    }
  }

  async get(opts?: ClusterQueueWait): Promise<T> {
    this.#checkOpen("get");
    const block = opts?.block ?? true;
    const timeout = checkTimeout(opts?.timeout, "Queue.get");
    const { nc, js } = await this.#link;
    const deadline = !block ? 0 : timeout === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeout;
    let failingSince: number | undefined;
    for (;;) {
      const left = deadline - performance.now();
      let m: JsMsg | null;
      try {
        const consumer = await js.consumers.get(this.#stream, "getters");
        if (left <= 0 && (await consumer.info()).num_pending === 0) throw new Empty(`Queue "${this.#name}" is empty`);
        // Whole ms: the client derives the idle heartbeat from it, and the broker refuses a fraction of a ns.
        const pull = consumer.next({ expires: Math.max(MIN_PULL_MS, Math.min(PULL_MS, Math.floor(left))) });
        m = left < MIN_PULL_MS ? await within(pull, Math.max(0, left)) : await pull;
        failingSince = undefined;
      } catch (error) {
        if (error instanceof Empty || nc.isClosed()) throw error;
        if (this.#closed) throw new ProcessError("The Queue was closed during get", { cause: error });
        failingSince ??= performance.now();
        if (performance.now() - failingSince > RETRY_WINDOW_MS) throw error;
        await Bun.sleep(RETRY_MS); // The broker away (a restart): try again.
        continue;
      }
      if (m !== null) {
        let value: T;
        try {
          value = loads(m.data) as T;
        } catch (error) {
          m.term(); // Never redelivered: it would fail every getter the same way.
          throw error;
        }
        // The ack has reached the broker when the flush's round trip, sent
        // after it, returns. (ackAck() measured 60-450 ms on this loaded machine.)
        m.ack();
        await nc.flush();
        return value;
      }
      if (performance.now() >= deadline) throw new Empty(`Queue "${this.#name}" is empty`);
    }
  }

  async qsizeAsync(): Promise<number> {
    this.#checkOpen("qsize");
    const { jsm } = await this.#link;
    return (await jsm.streams.info(this.#stream)).state.messages;
  }

  putSync(): never {
    return refused("putSync()", "await queue.put(obj)");
  }

  getSync(): never {
    return refused("getSync()", "await queue.get()");
  }

  putNowait(): never {
    return refused("putNowait()", "await queue.put(obj, { block: false })");
  }

  getNowait(): never {
    return refused("getNowait()", "await queue.get({ block: false })");
  }

  qsize(): never {
    return refused("qsize()", "await queue.qsizeAsync()");
  }

  empty(): never {
    return refused("empty()", "(await queue.qsizeAsync()) === 0");
  }

  full(): never {
    return refused("full()", "await queue.put(obj, { block: false }) and catch Full");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const link = await this.#link.catch(() => undefined);
    if (link !== undefined && !link.nc.isClosed()) await link.nc.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  toString(): string {
    return `<Queue cluster name=${this.#name}>`;
  }
}
