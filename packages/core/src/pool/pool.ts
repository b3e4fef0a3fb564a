/**
 * Pool: worker processes (or threads) that run tasks (Python:
 * `multiprocessing.pool.Pool`), made to survive what hangs CPython's.
 *
 * How it differs from CPython's design, and why:
 * - Each worker has its own task queue and the parent chooses the worker, so
 *   the parent always knows which tasks a worker holds. When a worker dies,
 *   the task it was running (the one it took last and did not answer) fails
 *   with a ProcessError, the tasks it had not taken go to other workers, and
 *   a new worker takes its place. CPython's Pool hangs there forever.
 * - A worker holds a few tasks at once, more when tasks are short (measured
 *   per pool), so a stream of tiny tasks never waits for the parent, and a
 *   long task holds up little else.
 * - A task with a `timeout` or an abort `signal` goes to an idle worker and
 *   alone, so the pool can stop it by ending that worker.
 * - No result-handler thread: the parent reads replies on its event loop
 *   while tasks are out, and the `Sync` forms read them in the calling thread.
 */
import { Queue } from "../channel/queue.ts";
import type { Item } from "../channel/queue-item.ts";
import { dumps } from "../codec/encode.ts";
import { describeFunction, type ExportRef, findExport } from "../codec/exports.ts";
import type { BackendName } from "../config.ts";
import { ConfigError, Empty, PicklingError, ProcessError, TimeoutError } from "../errors.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import type { Process } from "../process.ts";
import { checkTimeout } from "../timeout.ts";
import { AsyncResult, type ResultCallbacks, settleResult } from "./async-result.ts";
import { type ForkedNames, forkRef, forkedNames, knowsName } from "./fork-names.ts";
import { poolWorker, workerLoop } from "./pool-worker.ts";
import {
  checkChunksize,
  allNumbers,
  chunkOf,
  defaultChunksize,
  type FnRef,
  INITIALIZER_FAILED,
  type Items,
  Kind,
  packNumbers,
  type ReplyMessage,
  type TaskMessage,
} from "./task.ts";

/** Options of `ctx.Pool(...)` (Python: `Pool(processes, initializer, initargs, maxtasksperchild)`). */
export interface PoolOptions {
  /** Number of workers; default `cpuCount()`. */
  processes?: number;
  /** Runs once in each worker before its first task. */
  initializer?: (...args: never[]) => unknown;
  initargs?: unknown[];
  /** Tasks a worker runs before it is replaced by a fresh one; default no limit. */
  maxTasksPerChild?: number;
}

/** Options of one submission (`applyAsync`, `mapAsync`). */
export interface ApplyOptions<R> extends ResultCallbacks<R> {
  /**
   * Longest a task may run, in ms, counted from when a worker starts it; then it fails with TimeoutError.
   * A negative number counts as 0.
   */
  timeout?: number;
  /** Aborting stops the task (ending its worker if it runs) and fails it with the signal's reason. */
  signal?: AbortSignal;
}

/** A task function: its arguments are checked by the caller's own types. */
// biome-ignore lint/suspicious/noExplicitAny: a task function takes any arguments the caller's types allow.
type TaskFn = (...args: any[]) => unknown;

/** How often a pool with tasks out checks that its workers live (ms). */
const LIVENESS_MS = 20;
/** Most tasks one worker holds at once. */
const MAX_DEPTH = 32;
/**
 * The work, in ms, a worker should hold ahead so that it never waits for the
 * parent. A map's chunks (about four per worker, as in CPython) all go out at
 * once while each takes up to 1 ms. The parent's turnaround between a reply
 * and the next task grows with its heap: in a parent of 1.1 GB, a fork map
 * of 100 000 numbers took 6.7–16 ms with 0.5 here and 5.5 ms with 4.
 */
const AHEAD_MS = 4;
/** Chunks an `imap` keeps submitted and not yet consumed, per worker. */
const IMAP_WINDOW = 16;
/**
 * Bytes of the rings of a worker's task queue and of the result queue: small
 * enough to stay resident (see ring.ts: no page faults on reuse) at a memory
 * cost that grows slowly with the pool's size. Items over an eighth of a
 * ring go out of line (a map chunk of 12 500 numbers is 100 KB: inline).
 */
const TASK_RING_BYTES = 1 << 20;
const RESULT_RING_BYTES = 4 << 20;
/** How long `terminate` waits for a worker to end after SIGTERM before SIGKILL (ms). */
const TERMINATE_GRACE_MS = 1000;

interface Worker {
  readonly proc: Process;
  readonly tasks: Queue<TaskMessage | null>;
  /** Tasks sent and not answered, in the order the worker runs them. */
  readonly inFlight: Job[];
  /** Length of the fork backend's function table when this worker was forked. */
  readonly knows: number;
  /** Fork: the exports it can look up by name. */
  readonly names: ForkedNames | undefined;
  sent: number;
  /** Gets no more tasks: it is being replaced. */
  retiring: boolean;
  /** A STOP is in its queue, behind its tasks. */
  stopSent: boolean;
}

/** How a task names its function; see `#refOf`. */
interface TaskRef {
  readonly fn: FnRef;
  readonly local: number;
}

interface Job {
  readonly id: number;
  readonly fn: FnRef;
  /** Index in the fork backend's function table, or -1. */
  readonly local: number;
  readonly kind: Kind;
  readonly items: Items;
  /** Names the task in messages. */
  readonly label: string;
  /** Encoded and not sent yet. */
  item: Item | undefined;
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  worker: Worker | undefined;
  deadline: number;
  done: boolean;
  readonly settle: (ok: boolean, value: unknown) => void;
}

type State = "run" | "close" | "terminate";

/** Numbers workers across pools, so names are unique in the process (Python: `ForkPoolWorker-N`). */
let workerCount = 0;

/**
 * A pool of workers. Make one with `ctx.Pool(processes)` or
 * `ctx.Pool({ processes, initializer, initargs, maxTasksPerChild })`.
 *
 * @example
 * await using pool = mp.Pool(4);
 * console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 */
export class Pool {
  readonly #Process: typeof Process;
  readonly #backend: BackendName;
  readonly #inherits: boolean;
  readonly #size: number;
  readonly #initializer: TaskFn | null;
  readonly #initargs: unknown[];
  readonly #maxTasks: number;
  readonly #results = Queue.resident<ReplyMessage>(RESULT_RING_BYTES);
  /** The process that made the pool (a fork worker holds a copy of it, see `#readLoop`). */
  readonly #pid = process.pid;
  readonly #workers: Worker[] = [];
  /** Jobs not sent yet; `#head` is the next. */
  #pending: Job[] = [];
  #head = 0;
  readonly #running = new Map<number, Job>();
  /** Running jobs with a deadline or a signal. */
  readonly #watched = new Set<Job>();
  /** The fork backend's table of task functions (workers inherit it). */
  readonly #local: TaskFn[] = [];
  readonly #localIndex = new Map<TaskFn, number>();
  /** Fork: the exported functions that go by reference. */
  readonly #named = new Map<TaskFn, ExportRef>();
  #state: State = "run";
  #broken: ProcessError | undefined;
  #nextId = 0;
  #reading = false;
  #lastCheck = 0;
  /** Smoothed time a task takes in a worker (ms); sets how many tasks a worker holds. */
  #taskMs = AHEAD_MS;
  #idleWaiters: (() => void)[] = [];
  readonly #pump = (done: () => boolean, deadline: number) => this.#pumpSync(done, deadline);

  /**
   * @internal Made by `ctx.Pool`, which passes the Process class of its backend.
   * @throws ConfigError for a bad option, PicklingError for an initializer that cannot reach the workers
   */
  constructor(processClass: typeof Process, backend: BackendName, inherits: boolean, opts: PoolOptions) {
    this.#Process = processClass;
    this.#backend = backend;
    this.#inherits = inherits;
    this.#size = opts.processes ?? 1;
    this.#initializer = (opts.initializer as TaskFn | undefined) ?? null;
    this.#initargs = opts.initargs ?? [];
    this.#maxTasks = opts.maxTasksPerChild ?? 0;
    if (!inherits) this.#checkInitializer();
    try {
      for (let i = 0; i < this.#size; i++) this.#startWorker();
    } catch (error) {
      this.terminate();
      throw error;
    }
  }

  /** Throws here, in the parent, what would otherwise crash every worker at start. */
  #checkInitializer(): void {
    const init = this.#initializer;
    if (init !== null && findExport(init) === undefined) {
      throw new PicklingError(
        `Cannot start a pool on the ${this.#backend} backend: the initializer ${describeFunction(init)} is not exported from any module; export it, or use the fork backend`,
        "initializer",
      );
    }
    dumps(this.#initargs, { path: "initargs" });
  }

  #startWorker(): void {
    const tasks = Queue.resident<TaskMessage | null>(TASK_RING_BYTES);
    const prefix = this.#backend[0]!.toUpperCase() + this.#backend.slice(1);
    const name = `${prefix}PoolWorker-${++workerCount}`;
    const setup = {
      tasks,
      results: this.#results,
      initializer: this.#initializer,
      initargs: this.#initargs,
      maxTasks: this.#maxTasks,
    };
    const local = this.#local;
    const names = this.#inherits ? forkedNames() : undefined;
    const proc = this.#inherits
      ? new this.#Process({ name, daemon: true, target: () => workerLoop(setup, local) })
      : new this.#Process({
          name,
          daemon: true,
          target: poolWorker,
          args: [tasks, this.#results, this.#initializer, this.#initargs, this.#maxTasks],
        });
    try {
      proc.start();
    } catch (error) {
      tasks.close();
      throw error;
    }
    this.#workers.push({
      proc,
      tasks,
      inFlight: [],
      knows: local.length,
      names,
      sent: 0,
      retiring: false,
      stopSent: false,
    });
  }

  // ---- submitting ----

  /** The reference a worker finds `fn` by. @throws PicklingError when it cannot reach the workers */
  #refOf(fn: unknown, what: string): TaskRef {
    if (typeof fn !== "function") throw new TypeError(`${what} needs a function, got ${typeof fn}`);
    if (!this.#inherits) {
      const exported = findExport(fn as TaskFn);
      if (exported !== undefined) return { fn: exported, local: -1 };
      throw new PicklingError(
        `Cannot run ${describeFunction(fn)} in a pool on the ${this.#backend} backend: it is not exported from any module; export it from its module, or use the fork backend`,
        "fn",
      );
    }
    // Fork: workers are copies of this process, so any function works,
    // closures included. An exported function goes by reference, as on spawn
    // and worker: the worker finds it in its copy of the module (#18). Any
    // other is put in the pool's table, which workers forked before do not
    // have: the pool forks new ones.
    let index = this.#localIndex.get(fn as TaskFn);
    if (index !== undefined) return { fn: index, local: index };
    const named = this.#named.get(fn as TaskFn) ?? this.#name(fn as TaskFn);
    if (named !== undefined) return { fn: named, local: -1 };
    index = this.#local.push(fn as TaskFn) - 1;
    this.#localIndex.set(fn as TaskFn, index);
    this.#refork(() => true);
    return { fn: index, local: index };
  }

  /**
   * Fork: the reference of an exported function, the first time the pool
   * meets it. Workers forked before its module had loaded are replaced
   * rather than left to load it: require() refuses a module with a top-level
   * await, and import() needs the runtime's event loop, which a fork child
   * does not run.
   */
  #name(fn: TaskFn): ExportRef | undefined {
    const ref = forkRef(fn);
    if (ref === undefined) return undefined;
    this.#refork((w) => !knowsName(w.names!, ref));
    this.#named.set(fn, ref);
    return ref;
  }

  /**
   * Replaces the workers that cannot run a new function (`stale`): each
   * finishes the tasks it holds, then exits.
   */
  #refork(stale: (w: Worker) => boolean): void {
    for (const w of [...this.#workers]) {
      if (w.retiring || !stale(w)) continue;
      this.#retire(w);
      w.tasks.putSync(null);
      w.stopSent = true;
    }
  }

  #checkRunning(): void {
    if (this.#broken !== undefined) throw this.#broken;
    if (this.#state !== "run") throw new ProcessError(`Pool is not running (it was ${this.#state}d)`);
  }

  /**
   * Encodes one task. `firstIndex` numbers map items in a PicklingError
   * (`iterable[12]`); apply's items are `args`.
   * @throws PicklingError when an item cannot be sent
   */
  #job(
    ref: TaskRef,
    kind: Kind,
    items: Items,
    firstIndex: number,
    opts: ApplyOptions<unknown> | undefined,
    label: string,
    settle: (ok: boolean, value: unknown) => void,
  ): Job {
    const id = this.#nextId++;
    let item: Item;
    try {
      item = this.#encode([id, ref.fn, kind, items]);
    } catch (error) {
      throw renamePath(error, kind, firstIndex);
    }
    return {
      id,
      fn: ref.fn,
      local: ref.local,
      kind,
      items,
      label,
      item,
      // Negative: the task fails at once once a worker takes it, as with 0.
      timeout: checkTimeout(opts?.timeout, "Pool task"),
      signal: opts?.signal,
      onAbort: undefined,
      worker: undefined,
      deadline: Number.POSITIVE_INFINITY,
      done: false,
      settle,
    };
  }

  /** Every worker's queue has the same inline limit: any queue encodes for all. */
  #encode(message: TaskMessage): Item {
    return (this.#results as unknown as Queue<TaskMessage>).encode(message);
  }

  /** Queues jobs made by `#job` and sends what workers can take now. */
  #enqueue(jobs: Job[]): void {
    for (const job of jobs) {
      if (job.signal !== undefined) {
        const signal = job.signal;
        job.onAbort = () => this.#abort(job, signal.reason);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#pending.push(job);
    }
    this.#dispatch();
    this.#ensureReading();
  }

  // ---- dispatching ----

  /** How many tasks a worker may hold: enough for about AHEAD_MS of work. */
  #depth(): number {
    return Math.max(1, Math.min(MAX_DEPTH, Math.floor(AHEAD_MS / this.#taskMs)));
  }

  #dispatch(): void {
    const depth = this.#depth();
    while (this.#head < this.#pending.length) {
      const job = this.#pending[this.#head]!;
      if (job.done) {
        this.#head++;
        continue;
      }
      const w = this.#pick(job, depth);
      if (w === undefined) break;
      this.#head++;
      this.#send(job, w);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The least busy worker that may take `job`, if any. */
  #pick(job: Job, depth: number): Worker | undefined {
    const alone = job.timeout !== undefined || job.signal !== undefined;
    let best: Worker | undefined;
    for (const w of this.#workers) {
      if (w.retiring || job.local >= w.knows) continue;
      const n = w.inFlight.length;
      if (n > 0 && (alone || isAlone(w.inFlight[0]!) || n >= depth)) continue;
      if (best === undefined || n < best.inFlight.length) best = w;
    }
    return best;
  }

  #send(job: Job, w: Worker): void {
    const item = job.item ?? this.#encode(messageOf(job));
    job.item = undefined;
    w.tasks.putEncodedSync(item);
    job.worker = w;
    // A task's time limit counts from here: it runs alone, so its worker starts it now.
    if (job.timeout !== undefined) job.deadline = performance.now() + job.timeout;
    if (isAlone(job)) this.#watched.add(job);
    w.inFlight.push(job);
    this.#running.set(job.id, job);
    w.sent++;
    if (this.#maxTasks > 0 && w.sent >= this.#maxTasks) this.#retire(w);
  }

  /** Takes `w` out of dispatch and starts its successor. */
  #retire(w: Worker): void {
    w.retiring = true;
    if (this.#mayReplace()) this.#startWorker();
  }

  #mayReplace(): boolean {
    if (this.#broken !== undefined) return false;
    return this.#state === "run" || (this.#state === "close" && this.#hasWork());
  }

  #hasWork(): boolean {
    return this.#running.size > 0 || this.#head < this.#pending.length;
  }

  // ---- replies, deaths, limits ----

  #onReply(reply: ReplyMessage): void {
    const [id, ok, value, ms] = reply;
    if (id === INITIALIZER_FAILED) {
      this.#break(value);
      return;
    }
    const job = this.#running.get(id);
    if (job === undefined) return; // Failed already (timeout, abort) before the worker answered.
    this.#unrun(job);
    this.#taskMs = this.#taskMs * 0.8 + Math.max(ms, 0.001) * 0.2;
    this.#finish(job, ok, value);
  }

  /** Forgets `job` as running on its worker. */
  #unrun(job: Job): void {
    this.#running.delete(job.id);
    this.#watched.delete(job);
    const list = job.worker!.inFlight;
    const at = list[0] === job ? 0 : list.indexOf(job);
    if (at >= 0) list.splice(at, 1);
  }

  #finish(job: Job, ok: boolean, value: unknown): void {
    if (job.done) return;
    job.done = true;
    if (job.onAbort !== undefined) job.signal!.removeEventListener("abort", job.onAbort);
    job.settle(ok, value);
  }

  #drainReplies(): void {
    const results = this.#results;
    while (!results.closed && !results.empty()) {
      let reply: ReplyMessage;
      try {
        reply = results.getNowait();
      } catch (error) {
        if (error instanceof Empty) return;
        throw error;
      }
      this.#onReply(reply);
    }
  }

  /** Reaps ended workers: fails the task each was running, hands on the ones it had not taken. */
  #checkWorkers(): void {
    for (const w of [...this.#workers]) {
      const code = w.proc.exitCode;
      if (code !== null) this.#onExit(w, code);
    }
  }

  #onExit(w: Worker, code: number): void {
    this.#drainReplies(); // What it answered before it ended.
    this.#workers.splice(this.#workers.indexOf(w), 1);
    const lost = w.inFlight.slice();
    if (lost.length > 0) {
      const queued = w.tasks.qsize() - (w.stopSent && w.tasks.qsize() > 0 ? 1 : 0);
      const taken = Math.max(0, lost.length - queued);
      for (const [i, job] of lost.entries()) {
        this.#unrun(job);
        job.worker = undefined;
        if (i < taken) {
          const pid = w.proc.pid === process.pid ? "" : ` (pid ${w.proc.pid})`;
          this.#finish(
            job,
            false,
            new ProcessError(
              `Pool worker ${w.proc.name}${pid} ended with exit code ${code} while running task ${job.id} (${job.label})`,
            ),
          );
        }
      }
      this.#requeue(lost.slice(taken));
    }
    w.tasks.close();
    w.proc.close();
    if (!w.retiring && this.#mayReplace()) this.#startWorker();
  }

  /** Puts jobs a dead worker had not taken back at the front, in order. */
  #requeue(jobs: Job[]): void {
    if (jobs.length === 0) return;
    this.#pending = [...jobs, ...this.#pending.slice(this.#head)];
    this.#head = 0;
  }

  /** Fails running jobs past their deadline or aborted (by ending their workers). */
  #checkJobs(now: number): void {
    for (const job of this.#watched) {
      if (job.signal?.aborted) this.#stop(job, job.signal.reason);
      else if (now >= job.deadline) {
        this.#stop(job, new TimeoutError(`Task ${job.id} (${job.label}) did not finish within ${job.timeout} ms`));
      }
    }
  }

  #abort(job: Job, reason: unknown): void {
    if (job.done) return;
    if (job.worker === undefined) this.#finish(job, false, reason);
    else this.#stop(job, reason);
  }

  /** Ends the worker running `job` (it runs alone there) and fails the job. */
  #stop(job: Job, error: unknown): void {
    const w = job.worker!;
    this.#unrun(job);
    this.#retire(w);
    w.proc.kill();
    this.#finish(job, false, error);
    this.#dispatch();
  }

  /** The initializer failed (or the pool cannot go on): every task fails with its error, now and later. */
  #break(cause: unknown, what = "The pool's initializer failed"): void {
    if (this.#broken !== undefined) return;
    const why = cause instanceof Error ? cause.message : String(cause);
    this.#broken = new ProcessError(`${what}: ${why}`, { cause });
    this.#failAll(this.#broken);
  }

  #failAll(error: ProcessError): void {
    for (const job of this.#pending.slice(this.#head)) this.#finish(job, false, error);
    this.#pending = [];
    this.#head = 0;
    for (const job of [...this.#running.values()]) {
      this.#unrun(job);
      this.#finish(job, false, error);
    }
  }

  // ---- driving ----

  /** Reading, liveness, limits and dispatch: one round. */
  #housekeep(): void {
    const now = performance.now();
    if (now - this.#lastCheck >= LIVENESS_MS) {
      this.#lastCheck = now;
      this.#checkWorkers();
    }
    if (this.#watched.size > 0) this.#checkJobs(now);
    this.#dispatch();
    if (this.#state === "close" && !this.#hasWork()) this.#sendStops();
  }

  /** ms until the next housekeeping is due. */
  #nextWait(): number {
    const now = performance.now();
    let wait = Math.max(0, this.#lastCheck + LIVENESS_MS - now);
    for (const job of this.#watched) wait = Math.min(wait, Math.max(0, job.deadline - now));
    return wait;
  }

  /** A method, so TypeScript does not narrow the state across an await. */
  #terminated(): boolean {
    return this.#state === "terminate";
  }

  #ensureReading(): void {
    if (this.#reading || !this.#hasWork() || this.#state === "terminate") return;
    this.#reading = true;
    void this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    try {
      while (this.#hasWork() && this.#state !== "terminate") {
        // Wait without taking: replies are taken and handled in one synchronous
        // run, so a `Sync` call of this thread never waits for a reply held here.
        await this.#results.readable(this.#nextWait());
        // The pool forks its workers from its user's async code, often while this step is due.
        if (forkedSince(this.#pid)) await forever;
        if (this.#terminated()) return;
        this.#drainReplies();
        this.#housekeep();
      }
    } catch (error) {
      // Nothing else awaits this loop: a failure here (a replacement worker
      // that cannot start, say) fails the work instead of going unhandled.
      this.#break(error, "The pool cannot go on");
    } finally {
      this.#reading = false;
      this.#wakeIdle();
    }
  }

  /** Reads replies in the calling thread until `done()` or `deadline`; true when done. */
  #pumpSync(done: () => boolean, deadline: number): boolean {
    for (;;) {
      if (done()) return true;
      const left = deadline - performance.now();
      if (left <= 0 || this.#state === "terminate") return done();
      if (!this.#hasWork()) {
        // Nothing out that could make it done (settled elsewhere meanwhile).
        return done();
      }
      try {
        this.#onReply(this.#results.getSync({ timeout: Math.min(left, this.#nextWait()) }));
        this.#drainReplies();
      } catch (error) {
        if (!(error instanceof Empty)) throw error;
      }
      this.#housekeep();
    }
  }

  #wakeIdle(): void {
    if (this.#hasWork()) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** After close, once all work is done: each worker exits after its queue. */
  #sendStops(): void {
    for (const w of this.#workers) {
      if (w.stopSent) continue;
      w.stopSent = true;
      w.tasks.putSync(null);
    }
  }

  // ---- public API ----

  /**
   * Runs `fn(...args)` in a worker; the handle is awaitable (Python: `apply_async`).
   * `args` may be left out only when `fn` takes no required parameter.
   * `fn` is an exported function, sent by reference; on fork it may be any
   * function, and one that is not exported (a closure) makes the pool fork
   * fresh workers the first time it meets it (docs/pool.md).
   * @throws ProcessError when the pool is not running; PicklingError when `fn` or an argument cannot reach a worker
   */
  applyAsync<R>(fn: () => R, args?: [], opts?: ApplyOptions<Awaited<R>>): AsyncResult<Awaited<R>>;
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>>;
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>> {
    return this.#applyAsync(fn, args, opts);
  }

  /** `applyAsync` without its overloads, for `apply` and `applySync` too. */
  #applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    opts?: ApplyOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>> {
    this.#checkRunning();
    checkApplyOptions(opts);
    const ref = this.#refOf(fn, "applyAsync");
    const result = new AsyncResult<Awaited<R>>(this.#pump, opts);
    if (opts?.signal?.aborted) {
      settleResult(result, false, opts.signal.reason);
      return result;
    }
    const list = args ?? [];
    if (!Array.isArray(list)) throw new TypeError(`applyAsync args must be an array, got ${typeof list}`);
    const job = this.#job(ref, Kind.APPLY, list, 0, opts as ApplyOptions<unknown>, describeFunction(fn), (ok, value) =>
      settleResult(result, ok, value),
    );
    this.#enqueue([job]);
    return result;
  }

  /** Runs `fn(...args)` in a worker and resolves to its result (Python: `apply`). */
  apply<R>(fn: () => R, args?: []): Promise<Awaited<R>>;
  apply<A extends unknown[], R>(fn: (...args: A) => R, args: A): Promise<Awaited<R>>;
  apply<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Promise<Awaited<R>> {
    return this.#applyAsync(fn, args).get();
  }

  /** Like `apply`, blocking the calling thread (Python: `apply`). */
  applySync<R>(fn: () => R, args?: []): Awaited<R>;
  applySync<A extends unknown[], R>(fn: (...args: A) => R, args: A): Awaited<R>;
  applySync<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Awaited<R> {
    return this.#applyAsync(fn, args).getSync();
  }

  /**
   * `fn` over every item, in chunks; the handle resolves to the results in
   * order, or fails with the first error (Python: `map_async`).
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(fn, iterable, chunksize, opts, Kind.MAP, "mapAsync");
  }

  #mapAsync<R>(
    fn: unknown,
    iterable: Iterable<unknown>,
    chunksize: number | undefined,
    opts: ApplyOptions<R[]> | undefined,
    kind: Kind,
    what: string,
  ): AsyncResult<R[]> {
    this.#checkRunning();
    checkApplyOptions(opts);
    // The input first, as Python's map_async does: when it throws, that error
    // is the call's and nothing was sent (nor, on fork, a worker replaced).
    const items = materialise(iterable, what);
    const ref = this.#refOf(fn, what);
    if (kind === Kind.STARMAP) checkArgLists(items, what);
    const size = chunksize ?? defaultChunksize(items.length, this.#size);
    if (chunksize !== undefined) checkChunksize(chunksize, what);
    const result = new AsyncResult<R[]>(this.#pump, opts);
    if (items.length === 0 || opts?.signal?.aborted) {
      settleResult(result, items.length === 0, items.length === 0 ? [] : opts!.signal!.reason);
      return result;
    }
    const out = new Array<R>(items.length);
    let left = Math.ceil(items.length / size);
    const label = describeFunction(fn);
    // Numbers cannot fail to encode: each chunk goes out as soon as it is
    // made, so the workers start while the rest is cut. Other items are all
    // encoded first, so that a PicklingError leaves nothing running.
    const eager = kind === Kind.MAP && allNumbers(items);
    const jobs: Job[] = [];
    for (let start = 0; start < items.length; start += size) {
      const job = this.#job(
        ref,
        kind,
        chunkOf(items, start, size),
        start,
        opts as ApplyOptions<unknown>,
        label,
        (ok, value) => {
          if (!ok) {
            settleResult(result, false, value);
            return;
          }
          const values = value as R[];
          for (let i = 0; i < values.length; i++) out[start + i] = values[i]!;
          if (--left === 0) settleResult(result, true, out);
        },
      );
      if (eager) this.#enqueue([job]);
      else jobs.push(job);
    }
    if (!eager) this.#enqueue(jobs);
    return result;
  }

  /** `fn` over every item, results in order (Python: `map`); an async iterable is read first. */
  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.mapAsync(fn, items, chunksize).get();
  }

  /** Like `map`, blocking the calling thread (Python: `map`). */
  mapSync<T, R>(fn: (item: T) => R, iterable: Iterable<T>, chunksize?: number): Awaited<R>[] {
    return this.mapAsync(fn, iterable, chunksize).getSync();
  }

  /** `fn(...args)` for every argument list, results in order (Python: `starmap`). */
  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A> | AsyncIterable<A>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    const items = isAsyncIterable(iterable) ? await Array.fromAsync(iterable) : iterable;
    return this.#mapAsync<Awaited<R>>(fn, items, chunksize, undefined, Kind.STARMAP, "starmap").get();
  }

  /**
   * `fn(...args)` for every argument list, in chunks; the handle resolves to
   * the results in order, or fails with the first error (Python: `starmap_async`).
   * @throws ProcessError when the pool is not running; TypeError for an item that is not an array;
   * PicklingError when `fn` or an argument cannot reach a worker
   */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    chunksize?: number,
    opts?: ApplyOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync<Awaited<R>>(fn, iterable, chunksize, opts, Kind.STARMAP, "starmapAsync");
  }

  /** Like `starmap`, blocking the calling thread. */
  starmapSync<A extends unknown[], R>(fn: (...args: A) => R, iterable: Iterable<A>, chunksize?: number): Awaited<R>[] {
    return this.#mapAsync<Awaited<R>>(fn, iterable, chunksize, undefined, Kind.STARMAP, "starmapSync").getSync();
  }

  /**
   * `fn` over the items, yielded in input order as they arrive (Python:
   * `imap`). The input is read lazily, a bounded number of chunks ahead of
   * the consumer, so it may be endless or async. When reading the input
   * throws, the results of the chunks read before are yielded first, then
   * that error is thrown; the chunk it broke off is not run (Python's rule).
   */
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T> | AsyncIterable<T>, chunksize = 1): AsyncIterable<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, true, "imap");
  }

  /**
   * Like `imap`, yielding results as they finish, in any order (Python:
   * `imap_unordered`). When reading the input throws, every result of the
   * chunks read before is yielded first, then that error is thrown.
   */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize = 1,
  ): AsyncIterable<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, false, "imapUnordered");
  }

  #imap<R>(
    fn: unknown,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    ordered: boolean,
    what: string,
  ): AsyncIterable<R> {
    // Mistakes throw here, at the call, not at the first iteration.
    this.#checkRunning();
    checkChunksize(chunksize, what);
    const ref = this.#refOf(fn, what);
    const source = iteratorOf(iterable, what);
    return {
      [Symbol.asyncIterator]: () => this.#iterate<R>(ref, source, chunksize, ordered, describeFunction(fn)),
    };
  }

  async *#iterate<R>(
    ref: TaskRef,
    source: Iterator<unknown> | AsyncIterator<unknown>,
    chunksize: number,
    ordered: boolean,
    label: string,
  ): AsyncGenerator<R> {
    type Outcome = { ok: boolean; value: unknown };
    const done = new Map<number, Outcome>(); // by chunk number (ordered) or arrival (unordered)
    let arrived = 0;
    let submitted = 0;
    let yielded = 0;
    let exhausted = false;
    /** What reading the input threw: thrown once every chunk read before it is yielded. */
    let failure: { error: unknown } | undefined;
    let wake: (() => void) | undefined;
    const jobs = new Set<Job>();
    const window = Math.max(2, this.#size * IMAP_WINDOW);
    try {
      for (;;) {
        while (!exhausted && submitted - yielded < window) {
          const chunk: unknown[] = [];
          while (chunk.length < chunksize) {
            let next: IteratorResult<unknown>;
            try {
              next = await source.next();
            } catch (error) {
              // Python's rule (#18): the chunks before run and are yielded, then
              // this error; the chunk it broke off is dropped, as Python's
              // task generator drops it. The iterator is done: no return().
              failure = { error };
              exhausted = true;
              chunk.length = 0;
              break;
            }
            if (next.done) {
              exhausted = true;
              break;
            }
            chunk.push(next.value);
          }
          if (chunk.length === 0) break;
          // Chunks read before close() still run, as in Python, whose imap queues its whole input at once.
          if (this.#broken !== undefined) throw this.#broken;
          if (this.#state === "terminate") throw new ProcessError("Pool is not running (it was terminated)");
          const n = submitted++;
          const job = this.#job(ref, Kind.MAP, packNumbers(chunk), n * chunksize, undefined, label, (ok, value) => {
            jobs.delete(job);
            done.set(ordered ? n : arrived++, { ok, value });
            wake?.();
          });
          jobs.add(job);
          this.#enqueue([job]);
        }
        if (exhausted && yielded === submitted) {
          if (failure !== undefined) throw failure.error;
          return;
        }
        const outcome = done.get(yielded);
        if (outcome === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        done.delete(yielded);
        yielded++;
        if (!outcome.ok) throw outcome.value;
        for (const value of outcome.value as R[]) yield value;
      }
    } finally {
      // The consumer stopped early (or an error): tasks not sent yet are dropped.
      for (const job of jobs) if (job.worker === undefined) this.#finish(job, false, new ProcessError("imap ended"));
      if (!exhausted) await source.return?.();
    }
  }

  /** Accepts no more work; workers exit once every task is done (Python: `close`). */
  close(): void {
    if (this.#state !== "run") return;
    this.#state = "close";
    if (!this.#hasWork()) this.#sendStops();
  }

  /**
   * Ends every worker now (Python: `terminate`); tasks not finished fail with
   * ProcessError. Leaves no child, descriptor or shared memory behind.
   */
  terminate(): void {
    if (this.#state === "terminate") return;
    this.#state = "terminate";
    this.#failAll(new ProcessError("The pool was terminated before this task finished"));
    const workers = this.#workers.splice(0);
    for (const w of workers) w.proc.terminate();
    for (const w of workers) {
      w.proc.joinSync(TERMINATE_GRACE_MS);
      if (w.proc.exitCode === null) {
        w.proc.kill();
        w.proc.joinSync(TERMINATE_GRACE_MS);
      }
      w.tasks.close();
      if (w.proc.exitCode !== null) w.proc.close();
    }
    this.#results.close();
    this.#wakeIdle();
  }

  /**
   * Waits for the workers to exit (Python: `join`); call `close()` or
   * `terminate()` first.
   * @throws ProcessError while the pool is still running
   */
  async join(): Promise<void> {
    this.#checkJoinable();
    if (this.#hasWork()) {
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        this.#ensureReading();
      });
    }
    if (this.#state === "terminate") return;
    this.#sendStops();
    for (const w of [...this.#workers]) await w.proc.join();
    this.#reapAll();
  }

  /** Like `join`, blocking the calling thread. */
  joinSync(): void {
    this.#checkJoinable();
    this.#pumpSync(() => !this.#hasWork(), Number.POSITIVE_INFINITY);
    if (this.#state === "terminate") return;
    this.#sendStops();
    for (const w of [...this.#workers]) w.proc.joinSync();
    this.#reapAll();
  }

  #checkJoinable(): void {
    if (this.#state === "run") {
      throw new ProcessError("Cannot join a running pool: call close() or terminate() first");
    }
  }

  /** After a join: every worker has ended; release what they used. */
  #reapAll(): void {
    this.#checkWorkers();
    this.#results.close();
  }

  /** Ends the pool like Python's `with Pool() as p:` (terminate). */
  [Symbol.dispose](): void {
    this.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
  }

  /** Number of workers the pool keeps. */
  get processes(): number {
    return this.#size;
  }

  toString(): string {
    return `<Pool state=${this.#state} pool_size=${this.#size}>`;
  }
}

function isAlone(job: Job): boolean {
  return job.timeout !== undefined || job.signal !== undefined;
}

function messageOf(job: Job): TaskMessage {
  return [job.id, job.fn, job.kind, job.items];
}

/** A PicklingError's path as the caller wrote it: `args[0].f`, or `iterable[12]`. */
function renamePath(error: unknown, kind: Kind, firstIndex: number): unknown {
  if (!(error instanceof PicklingError)) return error;
  const m = /^item\[3\](?:\[(\d+)\])?/.exec(error.path);
  if (m === null) return error;
  const rest = error.path.slice(m[0].length);
  const path =
    kind === Kind.APPLY
      ? `args${m[1] === undefined ? "" : `[${m[1]}]`}${rest}`
      : `iterable${m[1] === undefined ? "" : `[${firstIndex + Number(m[1])}]`}${rest}`;
  return new PicklingError(error.message.replace(error.path, path), path, { cause: error.cause });
}

function materialise(iterable: Iterable<unknown>, what: string): unknown[] {
  if (Array.isArray(iterable)) return iterable;
  if (iterable === null || typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new TypeError(`${what} needs an iterable of items, got ${describe(iterable)}`);
  }
  return Array.from(iterable);
}

function iteratorOf(iterable: Iterable<unknown> | AsyncIterable<unknown>, what: string) {
  if (isAsyncIterable(iterable)) return iterable[Symbol.asyncIterator]();
  if (iterable !== null && typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] === "function") {
    return (iterable as Iterable<unknown>)[Symbol.iterator]();
  }
  throw new TypeError(`${what} needs an iterable or async iterable of items, got ${describe(iterable)}`);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function"
  );
}

function checkArgLists(items: unknown[], what: string): void {
  for (const [i, args] of items.entries()) {
    if (!Array.isArray(args))
      throw new TypeError(`${what} needs an array of arguments per item; item ${i} is ${describe(args)}`);
  }
}

function checkApplyOptions(opts: ApplyOptions<never> | undefined): void {
  if (opts === undefined) return;
  const { timeout, signal, callback, errorCallback } = opts;
  checkTimeout(timeout, "Pool task");
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
  if (callback !== undefined && typeof callback !== "function") throw new TypeError("callback must be a function");
  if (errorCallback !== undefined && typeof errorCallback !== "function") {
    throw new TypeError("errorCallback must be a function");
  }
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/**
 * Checks the options of `ctx.Pool(...)`.
 * @throws ConfigError naming the bad option and what is allowed
 */
export function parsePoolOptions(arg: number | PoolOptions | undefined, defaultSize: number): PoolOptions {
  const opts: PoolOptions = typeof arg === "number" ? { processes: arg } : (arg ?? {});
  if (typeof opts !== "object" || opts === null) {
    throw new ConfigError(`Pool options must be a number of processes or an object, got ${describe(arg)}`);
  }
  const known = new Set(["processes", "initializer", "initargs", "maxTasksPerChild"]);
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) {
      throw new ConfigError(`Unknown Pool option "${key}"; the options are ${[...known].join(", ")}`);
    }
  }
  const { processes, initializer, initargs, maxTasksPerChild } = opts;
  if (processes !== undefined && !(Number.isInteger(processes) && processes >= 1)) {
    throw new ConfigError(`Pool option processes must be an integer >= 1, got ${String(processes)}`);
  }
  if (initializer !== undefined && initializer !== null && typeof initializer !== "function") {
    throw new ConfigError(`Pool option initializer must be a function, got ${describe(initializer)}`);
  }
  if (initargs !== undefined && !Array.isArray(initargs)) {
    throw new ConfigError(`Pool option initargs must be an array, got ${describe(initargs)}`);
  }
  if (
    maxTasksPerChild !== undefined &&
    maxTasksPerChild !== null &&
    !(Number.isInteger(maxTasksPerChild) && maxTasksPerChild >= 1)
  ) {
    throw new ConfigError(`Pool option maxTasksPerChild must be an integer >= 1, got ${String(maxTasksPerChild)}`);
  }
  return {
    processes: processes ?? defaultSize,
    initializer: initializer ?? undefined,
    initargs: initargs ?? [],
    maxTasksPerChild: maxTasksPerChild ?? undefined,
  };
}
