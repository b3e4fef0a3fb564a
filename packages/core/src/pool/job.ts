/**
 * A job: one task of a Pool from submission to its settling, and the
 * reference by which a worker finds the task's function.
 */
import { encodeFor } from "../channel/pool-queue.ts";
import type { Queue } from "../channel/queue.ts";
import type { Item } from "../channel/queue-item.ts";
import { PicklingError } from "../errors.ts";
import { checkTimeout } from "../timeout.ts";
import type { PoolCore } from "./pool-core.ts";
import type { ApplyOptions } from "./pool-options.ts";
import { type FnRef, type Items, Kind, type TaskMessage } from "../protocol/task.ts";
import type { Worker } from "./workers.ts";

/** A task function: its arguments are checked by the caller's own types. */
// biome-ignore lint/suspicious/noExplicitAny: a task function takes any arguments the caller's types allow.
export type TaskFn = (...args: any[]) => unknown;

/** How a task names its function; see `refOf` in task-refs.ts. */
export interface TaskRef {
  readonly fn: FnRef;
  readonly local: number;
}

export interface Job {
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

/**
 * Encodes one task. `firstIndex` numbers map items in a PicklingError
 * (`iterable[12]`); apply's items are `args`.
 * @throws PicklingError when an item cannot be sent
 */
export function makeJob(
  core: PoolCore,
  ref: TaskRef,
  kind: Kind,
  items: Items,
  firstIndex: number,
  opts: ApplyOptions<unknown> | undefined,
  label: string,
  settle: (ok: boolean, value: unknown) => void,
): Job {
  const id = core.nextId++;
  let item: Item;
  try {
    item = encodeTask(core, [id, ref.fn, kind, items]);
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
export function encodeTask(core: PoolCore, message: TaskMessage): Item {
  return encodeFor(core.results as unknown as Queue<TaskMessage>, message);
}

/** Runs alone on its worker, so the pool can stop it by ending that worker. */
export function isAlone(job: Job): boolean {
  return job.timeout !== undefined || job.signal !== undefined;
}

export function messageOf(job: Job): TaskMessage {
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
