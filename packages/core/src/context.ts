/**
 * Contexts: every factory of the API bound to one backend, so
 * `const mp = getContext("fork")` reads like Python's `multiprocessing`.
 * (Python: `multiprocessing.context`, without its indirection.)
 */
import { loadBackend } from "./backend-registry.ts";
import { type BackendName, backendNames, parseBackendName } from "./config.ts";
import { activeChildren, boundToContext, cpuCount, currentProcess, parentProcess, Process } from "./process.ts";
import { getStartMethod, setStartMethod } from "./start-method.ts";
import { Lock, RLock } from "./sync/index.ts";

/** The API of `multiprocessing`, bound to one backend (Python: a context object). */
export interface Context {
  /** The backend of this context; undefined for the default context, which follows `setStartMethod`. */
  readonly startMethod: BackendName | undefined;
  /** The Process class whose instances start on this context's backend. */
  readonly Process: typeof Process;
  /** A new non-recursive lock (Python: `ctx.Lock()`). */
  Lock(): Lock;
  /** A new recursive lock (Python: `ctx.RLock()`). */
  RLock(): RLock;
  getContext(name?: BackendName): Context;
  getStartMethod(): BackendName;
  setStartMethod(name: BackendName, opts?: { force?: boolean }): void;
  getAllStartMethods(): BackendName[];
  currentProcess(): Process;
  parentProcess(): Process | null;
  activeChildren(): Process[];
  cpuCount(): number;
}

const contexts = new Map<BackendName | undefined, Context>();

function makeContext(name: BackendName | undefined): Context {
  let BoundProcess = Process;
  if (name !== undefined) {
    // A plain subclass that only names its backend; it counts as the base
    // class when a child rebuilds it (see `boundToContext`).
    BoundProcess = class Process extends BaseProcess {
      static override startMethod: BackendName | undefined = name;
      static readonly [boundToContext] = true;
    };
  }
  return {
    startMethod: name,
    Process: BoundProcess,
    Lock: () => new Lock(),
    RLock: () => new RLock(),
    getContext,
    getStartMethod: () => name ?? getStartMethod(),
    setStartMethod,
    getAllStartMethods,
    currentProcess,
    parentProcess,
    activeChildren,
    cpuCount,
  };
}
const BaseProcess = Process;

/**
 * The context of backend `name`, or the default context (which follows
 * `setStartMethod` and the configuration) when no name is given.
 * @throws ConfigError for an unknown name
 * @example
 * const mp = getContext("spawn");
 * const p = new mp.Process({ target: work });
 */
export function getContext(name?: BackendName): Context {
  const key = name === undefined ? undefined : parseBackendName(name, "context name");
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = makeContext(key);
    contexts.set(key, ctx);
  }
  return ctx;
}

/** The backends usable on this platform (Python: `get_all_start_methods`). */
export function getAllStartMethods(): BackendName[] {
  return backendNames.filter((name) => {
    try {
      return loadBackend(name).capabilities.available;
    } catch {
      return false;
    }
  });
}
