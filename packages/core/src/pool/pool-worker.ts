/**
 * The loop a Pool worker runs (Python: `multiprocessing.pool.worker`): take a
 * task from its own queue, run it, put the reply on the pool's shared result
 * queue. Tasks run one at a time in queue order, so should the worker die the
 * parent knows which task it was running: the one it took last and did not
 * answer (see `Pool`).
 */
import type { Queue } from "../channel/index.ts";
import { withImports } from "../codec/decode.ts";
import { type ExportRef, importExport, resolveExport } from "../codec/exports.ts";
import { PicklingError } from "../errors.ts";
import {
  type FnRef,
  INITIALIZER_FAILED,
  type Items,
  Kind,
  parseTask,
  type ReplyMessage,
  type TaskMessage,
} from "../protocol/task.ts";
import { PACK_MIN } from "./task.ts";

type Callable = (...args: unknown[]) => unknown;

/** What a worker needs, whichever backend started it. */
export interface WorkerSetup {
  readonly tasks: Queue<TaskMessage | null>;
  readonly results: Queue<ReplyMessage>;
  readonly initializer: Callable | null;
  readonly initargs: unknown[];
  /** Tasks to run before exiting; 0 for no limit (Python: `maxtasksperchild`). */
  readonly maxTasks: number;
}

/**
 * The target of a worker on the spawn and worker backends (exported, so the
 * child can import it).
 */
export async function poolWorker(
  tasks: Queue<TaskMessage | null>,
  results: Queue<ReplyMessage>,
  initializer: Callable | null,
  initargs: unknown[],
  maxTasks: number,
): Promise<void> {
  await workerLoop({ tasks, results, initializer, initargs, maxTasks });
}

/**
 * Runs tasks until told to stop or `maxTasks` ran. `local`, given on the fork
 * backend only, is the inherited table of functions that go by index (not
 * exported, or not found by name there; see `fork-names.ts`).
 */
export async function workerLoop(setup: WorkerSetup, local?: readonly Callable[]): Promise<void> {
  const { tasks, results } = setup;
  if (setup.initializer !== null) {
    try {
      const started = setup.initializer(...setup.initargs);
      if (isThenable(started)) await started;
    } catch (error) {
      reply(results, INITIALIZER_FAILED, false, error, 0);
      return;
    }
  }
  const functions = new Map<string, Callable>();
  const find = async (ref: FnRef): Promise<Callable> => {
    if (typeof ref === "number") {
      const fn = local?.[ref];
      if (fn === undefined) throw new PicklingError(`Pool function #${ref} is unknown to this worker`, "fn");
      return fn;
    }
    const key = `${ref.module}\0${ref.name}`;
    let fn = functions.get(key);
    if (fn === undefined) {
      // A fork worker has its parent's modules but no runtime event loop for
      // import(): it looks the export up where the parent left it (#18).
      fn = local === undefined ? await load(ref) : callable(ref, resolveExport(ref));
      functions.set(key, fn);
    }
    return fn;
  };
  for (let done = 0; setup.maxTasks === 0 || done < setup.maxTasks; done++) {
    // The pool's own task channel carries the functions and arguments it runs.
    const raw: unknown = withImports(() => tasks.getSync());
    let task: TaskMessage | null;
    try {
      task = parseTask(raw);
    } catch (error) {
      // Answered as that task's error when the message still names one; else this worker ends and the pool replaces it.
      const id = Array.isArray(raw) ? raw[0] : undefined;
      if (!Number.isInteger(id) || (id as number) < 0) throw error;
      reply(results, id as number, false, error, 0);
      continue;
    }
    if (task === null) return;
    const [id, ref, kind, items] = task;
    let ok = true;
    let value: unknown;
    const started = performance.now();
    try {
      value = await run(await find(ref), kind, items);
    } catch (error) {
      ok = false;
      value = error;
    }
    reply(results, id, ok, value, performance.now() - started);
  }
}

async function run(fn: Callable, kind: Kind, items: Items): Promise<unknown> {
  if (kind === Kind.APPLY) {
    const r = fn(...items);
    return isThenable(r) ? await r : r;
  }
  // Results go straight into a Float64Array while they are numbers, as
  // `packNumbers` would send them: one buffer instead of an array and a copy
  // (in a fork worker each new page costs a copy-on-write fault, too).
  const n = items.length;
  let packed = n >= PACK_MIN ? new Float64Array(n) : undefined;
  let out: unknown[] | undefined = packed === undefined ? new Array<unknown>(n) : undefined;
  for (let i = 0; i < n; i++) {
    const r = kind === Kind.MAP ? fn(items[i]) : fn(...(items[i] as unknown[]));
    const value = isThenable(r) ? await r : r;
    if (packed !== undefined) {
      if (typeof value === "number") {
        packed[i] = value;
        continue;
      }
      out = Array.from(packed.subarray(0, i));
      out.length = n;
      packed = undefined;
    }
    out![i] = value;
  }
  return packed ?? out;
}

/** Puts a reply; a result that cannot be sent becomes the task's error instead. */
function reply(results: Queue<ReplyMessage>, id: number, ok: boolean, value: unknown, ms: number): void {
  try {
    results.putSync([id, ok, value, ms]);
  } catch (error) {
    if (!(error instanceof PicklingError)) throw error;
    const message = ok ? `the task's result cannot be sent back: ${error.message}` : error.message;
    results.putSync([id, false, new PicklingError(message, error.path), ms]);
  }
}

async function load(ref: ExportRef): Promise<Callable> {
  return callable(ref, await importExport(ref));
}

function callable(ref: ExportRef, fn: unknown): Callable {
  if (typeof fn !== "function") throw new TypeError(`${ref.name} of ${ref.module} is not a function`);
  return fn as Callable;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
