/**
 * A worker host (`multiproc worker`): serves a cluster pool's tasks from a
 * local Pool. It runs only functions exported by the modules it was started
 * with; any other message on the task subject is refused (terminated at the
 * broker so it is never redelivered), counted and logged, and never imported.
 * A task is acknowledged only after its result is stored in the results
 * stream; while held, it is marked in progress so the ack wait does not give
 * it to another host, and a host that dies stops doing so, which does.
 */
import { isAbsolute, resolve } from "node:path";
import { type BackendName, type ClusterOptions, getContext, type Pool, ProcessError } from "@multiproc/core";
import { dumps, loads } from "@multiproc/core/internal";
import {
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type BatchEntry, type BatchOutcome, parseBatch, resultParts } from "./apply-batch.ts";
import { toAppPath } from "./app-path.ts";
import { connectBroker } from "./broker-connection.ts";
import { type PoolNames, poolNames } from "./pool-name.ts";
import { StoredPublisher, TooLargeError } from "./stored-publisher.ts";
import { ensureConsumer, ensureStreams } from "./streams.ts";
import { parseTaskHeaders, resultHeaders, type TaskHeaders } from "./task-message.ts";

/** Default ack wait, in ms: how long a host that stopped answering keeps its tasks from the others. */
export const DEFAULT_ACK_WAIT = 30_000;

export interface WorkerHostOptions {
  cluster: ClusterOptions;
  name: string;
  processes: number;
  backend: BackendName;
  /** Module paths (relative to the working directory, or absolute) whose exported functions may run. */
  modules: string[];
  /** Ack wait of the pool's consumer, in ms. */
  ackWait?: number;
  /** Where refusals and failures are reported; default stderr. */
  log?: (line: string) => void;
}

/** Tasks a host holds per local process. */
const PULL_PER_PROCESS = 8;
/** Longest one pull waits for tasks, in ms; then it pulls again with the room there is then. */
const FETCH_MS = 1000;

type TaskFn = (...args: unknown[]) => unknown;

export class WorkerHost {
  readonly #names: PoolNames;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #publisher: StoredPublisher;
  readonly #pool: Pool;
  readonly #allowed: Map<string, TaskFn>;
  readonly #log: (line: string) => void;
  readonly #held = new Set<JsMsg>();
  readonly #heartbeat: Timer;
  #limit = 1;
  #stopping = false;
  #batch: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #running = new Set<Promise<void>>();
  /** Messages refused: malformed, foreign, or naming a function this host does not serve. */
  refused = 0;
  /** Tasks whose result was stored and acknowledged. */
  served = 0;

  private constructor(
    names: PoolNames,
    nc: NatsConnection,
    pool: Pool,
    allowed: Map<string, TaskFn>,
    log: (line: string) => void,
    ackWait: number,
  ) {
    this.#names = names;
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#publisher = new StoredPublisher(nc);
    this.#pool = pool;
    this.#allowed = allowed;
    this.#log = log;
    // Well inside the ack wait: a held task is never given to another host while this one lives.
    this.#heartbeat = setInterval(
      () => {
        for (const m of this.#held) m.working();
      },
      Math.max(50, ackWait / 3),
    );
  }

  /** Imports the modules, connects and starts serving. @throws ConfigError for bad options or credentials */
  static async start(opts: WorkerHostOptions): Promise<WorkerHost> {
    const names = poolNames(opts.name);
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const ackWait = opts.ackWait ?? DEFAULT_ACK_WAIT;
    const allowed = new Map<string, TaskFn>();
    for (const module of opts.modules) {
      const path = isAbsolute(module) ? module : resolve(module);
      const ns = (await import(path)) as Record<string, unknown>;
      const rel = toAppPath(Bun.resolveSync(path, process.cwd()), `module ${module}`);
      for (const [key, value] of Object.entries(ns)) {
        if (typeof value === "function") allowed.set(`${rel}#${key}`, value as TaskFn);
      }
    }
    const nc = await connectBroker(opts.cluster);
    let pool: Pool | undefined;
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, names);
      await ensureConsumer(jsm, names, ackWait);
      pool = getContext(opts.backend).Pool(opts.processes);
      const host = new WorkerHost(names, nc, pool, allowed, log, ackWait);
      const consumer = await host.#js.consumers.get(names.taskStream, names.consumer);
      // Held at once: enough that the broker round trips of one task overlap
      // the running of others (measured on a loaded 2-core machine, 2000
      // applyAsync over two hosts of 2 processes: 2 per process gave 410
      // tasks/s, 8 gave 580), few enough that other hosts get a share of a
      // short map and a host that dies takes few tasks with it.
      host.#limit = opts.processes * PULL_PER_PROCESS;
      host.#loop = host.#serve(consumer);
      return host;
    } catch (error) {
      pool?.terminate();
      await nc.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Pulls at most as many tasks as there is room for (fetch, not consume:
   * consume pulls again as soon as a message is handed over, so a host would
   * take every task in the stream while its local pool runs a few), and
   * starts each as it arrives.
   */
  async #serve(consumer: Consumer): Promise<void> {
    while (!this.#stopping) {
      const room = this.#limit - this.#running.size;
      if (room <= 0) {
        await Promise.race(this.#running);
        continue;
      }
      try {
        this.#batch = await consumer.fetch({ max_messages: room, expires: FETCH_MS });
        for await (const m of this.#batch) {
          const run = this.#handle(m).catch((error) => this.#log(`multiproc worker: ${String(error)}`));
          this.#running.add(run);
          void run.finally(() => this.#running.delete(run));
        }
      } catch (error) {
        if (this.#stopping || this.#nc.isClosed()) return;
        // The broker away (a restart): pull again shortly.
        this.#log(`multiproc worker: pulling tasks failed (${String(error)}); retrying`);
        await Bun.sleep(250);
      }
    }
  }

  #refuse(m: JsMsg, why: string): void {
    this.refused++;
    m.term(why);
    this.#log(`multiproc worker: refused message ${m.seq} on ${m.subject} (${why}); ${this.refused} refused so far`);
  }

  async #handle(m: JsMsg): Promise<void> {
    const parsed = parseTaskHeaders(m.headers, this.#names.resultPrefix);
    if (!parsed.ok) return this.#refuse(m, parsed.why);
    const task = parsed.task;
    const fn = this.#allowed.get(task.fn);
    // Checked before the body is decoded: nothing in a refused message is imported.
    if (fn === undefined) return this.#refuse(m, `${task.fn} is not exported by the modules this worker serves`);
    let args: unknown;
    try {
      args = loads(m.data);
    } catch (error) {
      return this.#refuse(m, `undecodable body: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!Array.isArray(args)) return this.#refuse(m, "the body is not an array of arguments or items");
    let batch: [string, unknown[]][] | undefined;
    if (task.kind === "batch") {
      const checked = this.#decodeBatch(args);
      if (typeof checked === "string") return this.#refuse(m, checked);
      batch = checked;
    }
    this.#held.add(m);
    try {
      if (batch !== undefined) {
        await this.#replyBatch(task, await this.#runBatch(fn, batch));
      } else {
        const [ok, value] = await this.#run(task, fn, args);
        await this.#reply(task, ok, value);
      }
      m.ack();
      this.served++;
    } finally {
      this.#held.delete(m);
    }
  }

  /** A batch's calls with their argument lists decoded, or why the batch is refused (before any runs). */
  #decodeBatch(body: unknown[]): [string, unknown[]][] | string {
    const entries = parseBatch(body);
    if (typeof entries === "string") return entries;
    const calls: [string, unknown[]][] = [];
    for (const [id, bytes] of entries as BatchEntry[]) {
      let args: unknown;
      try {
        args = loads(bytes);
      } catch (error) {
        return `batch entry ${id}: undecodable args: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (!Array.isArray(args)) return `batch entry ${id}: its args are not an array`;
      calls.push([id, args]);
    }
    return calls;
  }

  /** Runs every call of a batch on the local pool at once, as applyAsync would; one failing fails only itself. */
  #runBatch(fn: TaskFn, calls: [string, unknown[]][]): Promise<BatchOutcome[]> {
    return Promise.all(
      calls.map(async ([id, args]): Promise<BatchOutcome> => {
        let ok = true;
        let value: unknown;
        try {
          value = await this.#pool.applyAsync(fn, args).get();
        } catch (error) {
          ok = false;
          value = error;
        }
        return [id, ...encodeOutcome(ok, value)];
      }),
    );
  }

  /** Stores a batch's outcomes in as many result messages as the broker's size limit needs; resolves once all are stored. */
  async #replyBatch(task: TaskHeaders, outcomes: BatchOutcome[]): Promise<void> {
    const parts = resultParts(outcomes);
    await Promise.all(
      parts.map(async (part, i) => {
        const msgID = `${task.id}.${i}`;
        try {
          await this.#publisher.publish(task.reply, dumps(part), resultHeaders(task.id, true), msgID);
        } catch (error) {
          if (!(error instanceof TooLargeError) || part.length !== 1) throw error;
          // One result too large for the broker fails its task, as for a task sent alone.
          const failure: BatchOutcome = [part[0]![0], false, dumps(new ProcessError(error.message), { path: "error" })];
          await this.#publisher.publish(task.reply, dumps([failure]), resultHeaders(task.id, true), msgID);
        }
      }),
    );
  }

  async #run(task: TaskHeaders, fn: TaskFn, args: unknown[]): Promise<[boolean, unknown]> {
    const opts = task.timeout === undefined ? undefined : { timeout: task.timeout };
    try {
      if (task.kind === "apply") return [true, await this.#pool.applyAsync(fn, args, opts).get()];
      if (task.kind === "map") return [true, await this.#pool.mapAsync(fn, args, undefined, opts).get()];
      return [true, await this.#pool.starmapAsync(fn, args as unknown[][], undefined, opts).get()];
    } catch (error) {
      return [false, error];
    }
  }

  /** Stores the result; resolves once the broker has it. */
  async #reply(task: TaskHeaders, ok: boolean, value: unknown): Promise<void> {
    let body: Uint8Array;
    try {
      body = dumps(value, { path: "result" });
    } catch (error) {
      // A result that cannot travel fails the task, as the local Pool does.
      ok = false;
      body = dumps(error, { path: "error" });
    }
    try {
      await this.#publisher.publish(task.reply, body, resultHeaders(task.id, ok), task.id);
    } catch (error) {
      if (!(error instanceof TooLargeError)) throw error;
      // A result too large for the broker fails the task, as one that cannot be encoded does.
      const failure = new ProcessError(error.message);
      await this.#publisher.publish(
        task.reply,
        dumps(failure, { path: "error" }),
        resultHeaders(task.id, false),
        task.id,
      );
    }
  }

  /** Stops taking tasks, finishes the ones held, then ends the local pool and the connection. */
  async close(): Promise<void> {
    this.#stopping = true;
    this.#batch?.stop();
    await this.#loop;
    await Promise.allSettled([...this.#running]);
    clearInterval(this.#heartbeat);
    this.#pool.close();
    await this.#pool.join();
    if (!this.#nc.isClosed()) await this.#nc.close();
  }
}

/** A call's value or error encoded; a value that cannot travel fails the call, as on the local Pool. */
function encodeOutcome(ok: boolean, value: unknown): [boolean, Uint8Array] {
  try {
    return [ok, dumps(value, { path: "result" })];
  } catch (error) {
    return [false, dumps(error, { path: "error" })];
  }
}
