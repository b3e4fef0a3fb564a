/**
 * @multiproc/core: Python's `multiprocessing` for TypeScript on Bun. The same
 * API as a Python user knows, camelCased, with times in milliseconds; the
 * module-level names are bound to the default context.
 */
import { getContext } from "./context.ts";

export type { Backend, BackendCapabilities, ChildHandle, LaunchRequest } from "./backend.ts";
export { type BackendName, backendNames } from "./config.ts";
export { type Context, getAllStartMethods, getContext } from "./context.ts";
export {
  BackendError,
  BrokenBarrierError,
  ConfigError,
  Empty,
  EOFError,
  Full,
  MultiprocError,
  PicklingError,
  ProcessError,
  TimeoutError,
} from "./errors.ts";
export {
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
  type ProcessOptions,
  type Target,
} from "./process.ts";
export { getStartMethod, setStartMethod } from "./start-method.ts";
import type { Lock as LockClass, RLock as RLockClass } from "./sync/index.ts";
export type { AcquireOptions, Held } from "./sync/index.ts";

const defaultContext = getContext();

/** A new Lock (Python: `multiprocessing.Lock()`). */
export const Lock = defaultContext.Lock;
export type Lock = LockClass;
/** A new RLock (Python: `multiprocessing.RLock()`). */
export const RLock = defaultContext.RLock;
export type RLock = RLockClass;
