/**
 * A caller's link to the broker: publishes tasks (each stored by the broker
 * before the call goes on, at most MAX_IN_FLIGHT unconfirmed at once) and
 * reads this caller's results from the results stream with an ordered
 * consumer, which resumes where it was after a reconnect.
 */
import type { ClusterOptions } from "@multiproc/core";
import { type ConsumerMessages, type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBroker } from "./broker-connection.ts";
import type { PoolNames } from "./pool-name.ts";
import { StoredPublisher } from "./stored-publisher.ts";
import { ensureStreams } from "./streams.ts";
import { H, type TaskHeaders, taskHeaders } from "./task-message.ts";

/** Results read between two purges of this caller's stored results, so a long-running caller's results do not pile up. */
const PURGE_EVERY = 1024;

/** Tasks published and not yet confirmed stored: enough to fill the pipe, few enough to bound memory. */
const MAX_IN_FLIGHT = 256;

export type ResultHandler = (id: string, ok: boolean, body: Uint8Array) => void;

export class BrokerLink {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #names: PoolNames;
  readonly #reply: string;
  readonly #publisher: StoredPublisher;
  #results: ConsumerMessages | undefined;
  #inFlight = 0;
  #gate: (() => void)[] = [];

  private constructor(nc: NatsConnection, names: PoolNames, reply: string) {
    this.#nc = nc;
    this.#reply = reply;
    this.#publisher = new StoredPublisher(nc);
    this.#js = jetstream(nc);
    this.#names = names;
  }

  /** Connects, creates the pool's streams if needed and starts reading results sent to `reply`. */
  static async open(
    opts: ClusterOptions,
    names: PoolNames,
    reply: string,
    onResult: ResultHandler,
  ): Promise<BrokerLink> {
    const nc = await connectBroker(opts);
    try {
      await ensureStreams(await jetstreamManager(nc), names);
      const link = new BrokerLink(nc, names, reply);
      await link.#readResults(onResult, 1);
      link.#rereadAfterReconnect(onResult);
      return link;
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
  }

  /** Stream sequence of the last result read. */
  #lastSeq = 0;

  /** Reads this caller's results from stream sequence `from` on, with an ordered consumer. */
  async #readResults(onResult: ResultHandler, from: number): Promise<void> {
    const consumer = await this.#js.consumers.get(this.#names.resultStream, {
      // A string, not an array: nats-server 2.9 (Debian's) knows only the single filter_subject.
      filter_subjects: this.#reply,
      opt_start_seq: from,
    });
    const messages = await consumer.consume();
    this.#results = messages;
    (async () => {
      let read = 0;
      for await (const m of messages) {
        this.#lastSeq = m.seq;
        const id = m.headers?.get(H.task);
        if (id) onResult(id, m.headers?.get(H.ok) === "1", m.data);
        if (++read % PURGE_EVERY === 0) this.#purge(m.seq + 1);
      }
    })().catch(() => {
      // Ends with the connection.
    });
  }

  /**
   * After a reconnect, reads the results again from the last one read: a
   * restarted broker has lost the ordered consumer (kept in memory), and the
   * client did not resume it (measured: results stored after a restart never
   * arrived). Results read twice are dropped by task id.
   */
  #rereadAfterReconnect(onResult: ResultHandler): void {
    (async () => {
      for await (const status of this.#nc.status()) {
        if (status.type !== "reconnect") continue;
        this.#results?.stop();
        for (;;) {
          try {
            await this.#readResults(onResult, this.#lastSeq + 1);
            break;
          } catch {
            if (this.#nc.isClosed()) return;
            await Bun.sleep(250); // JetStream not ready yet after the restart.
          }
        }
      }
    })().catch(() => {
      // Ends with the connection.
    });
  }

  /** Publishes a task and resolves once the broker has stored it. */
  async publish(task: TaskHeaders, body: Uint8Array): Promise<void> {
    while (this.#inFlight >= MAX_IN_FLIGHT) await new Promise<void>((wake) => this.#gate.push(wake));
    this.#inFlight++;
    try {
      await this.#publisher.publish(this.#names.taskSubject, body, taskHeaders(task), task.id);
    } finally {
      this.#inFlight--;
      this.#gate.shift()?.();
    }
  }

  /** Drops this caller's stored results below stream sequence `below` (already read); in the background. */
  #purge(below: number): void {
    jetstreamManager(this.#nc)
      .then((jsm) => jsm.streams.purge(this.#names.resultStream, { filter: this.#reply, seq: below }))
      .catch(() => {
        // The next purge, or the one at close, or max_age, gets them.
      });
  }

  /** Stops reading results, drops the ones still stored for this caller, and closes the connection. */
  async close(): Promise<void> {
    this.#results?.stop();
    if (this.#nc.isClosed()) return;
    try {
      const jsm = await jetstreamManager(this.#nc);
      await jsm.streams.purge(this.#names.resultStream, { filter: this.#reply });
    } catch {
      // The broker is gone: its max_age drops them instead.
    }
    await this.#nc.close();
  }
}
