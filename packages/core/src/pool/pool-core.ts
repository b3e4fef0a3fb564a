/**
 * The state one Pool shares among its modules (scheduler, workers, deaths,
 * aborts, driver, imap): the `Pool` class keeps it private, and each module
 * is a set of functions over it, so a concept lives in one file while the
 * per-task path stays plain calls on one object.
 */
import { residentQueue } from "../channel/pool-queue.ts";
import type { ExportRef } from "../codec/exports.ts";
import type { BackendName } from "../config.ts";
import type { ProcessError } from "../errors.ts";
import type { Process } from "../process.ts";
import type { Job, TaskFn } from "./job.ts";
import type { PoolOptions } from "./pool-options.ts";
import type { ReplyMessage } from "../protocol/task.ts";
import type { Worker } from "./workers.ts";

/**
 * The work, in ms, a worker should hold ahead so that it never waits for the
 * parent. A map's chunks (about four per worker, as in CPython) all go out at
 * once while each takes up to 1 ms. The parent's turnaround between a reply
 * and the next task grows with its heap, so a fork map in a parent with a
 * large heap ran several times slower with 0.5 than with 4 (the Pool phase of
 * `bun run bench`, apps/bench/src/pool-phase.ts; docs/pool.md, "Limits").
 */
export const AHEAD_MS = 4;
/**
 * Bytes of the ring of the result queue: small enough to stay resident (see
 * ring.ts: no page faults on reuse) at a memory cost that grows slowly with
 * the pool's size. Items over an eighth of a ring go out of line.
 */
const RESULT_RING_BYTES = 4 << 20;

export type PoolState = "run" | "close" | "terminate";

/** One pool's state; see the file header. */
export class PoolCore {
  readonly Process: typeof Process;
  readonly backend: BackendName;
  readonly inherits: boolean;
  readonly size: number;
  readonly initializer: TaskFn | null;
  readonly initargs: unknown[];
  readonly maxTasks: number;
  readonly results = residentQueue<ReplyMessage>(RESULT_RING_BYTES);
  /** The process that made the pool (a fork worker holds a copy of it, see `readLoop`). */
  readonly pid = process.pid;
  readonly workers: Worker[] = [];
  /** Jobs not sent yet; `head` is the next. */
  pending: Job[] = [];
  head = 0;
  readonly running = new Map<number, Job>();
  /** Running jobs with a deadline or a signal. */
  readonly watched = new Set<Job>();
  /** The fork backend's table of task functions (workers inherit it). */
  readonly local: TaskFn[] = [];
  readonly localIndex = new Map<TaskFn, number>();
  /** Fork: the exported functions that go by reference. */
  readonly named = new Map<TaskFn, ExportRef>();
  state: PoolState = "run";
  broken: ProcessError | undefined;
  nextId = 0;
  reading = false;
  lastCheck = 0;
  /** Smoothed time a task takes in a worker (ms); sets how many tasks a worker holds. */
  taskMs = AHEAD_MS;
  idleWaiters: (() => void)[] = [];

  constructor(processClass: typeof Process, backend: BackendName, inherits: boolean, opts: PoolOptions) {
    this.Process = processClass;
    this.backend = backend;
    this.inherits = inherits;
    this.size = opts.processes ?? 1;
    this.initializer = (opts.initializer as TaskFn | undefined) ?? null;
    this.initargs = opts.initargs ?? [];
    this.maxTasks = opts.maxTasksPerChild ?? 0;
  }

  hasWork(): boolean {
    return this.running.size > 0 || this.head < this.pending.length;
  }

  /** Whether a worker that ends or retires gets a successor. */
  mayReplace(): boolean {
    if (this.broken !== undefined) return false;
    return this.state === "run" || (this.state === "close" && this.hasWork());
  }

  /** A method, so TypeScript does not narrow the state across an await. */
  terminated(): boolean {
    return this.state === "terminate";
  }
}
