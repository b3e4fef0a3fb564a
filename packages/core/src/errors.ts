/**
 * The error hierarchy of multiproc, one class per failure a caller may want to
 * catch by type (mirrors the exceptions of Python's `multiprocessing.context`).
 */

/** Options accepted by every multiproc error. */
export interface MultiprocErrorOptions {
  cause?: unknown;
}

/** Base class of every error thrown by multiproc. */
export class MultiprocError extends Error {
  constructor(message?: string, options?: MultiprocErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Raised by `getNowait` / non-blocking `get` on an empty queue (Python: `queue.Empty`). */
export class Empty extends MultiprocError {}

/** Raised by `putNowait` / non-blocking `put` on a full queue (Python: `queue.Full`). */
export class Full extends MultiprocError {}

/** A blocking call ran past its timeout (Python: `multiprocessing.TimeoutError`). */
export class TimeoutError extends MultiprocError {}

/** The other end of a connection was closed and nothing is left to read (Python: `EOFError`). */
export class EOFError extends MultiprocError {}

/** A barrier was aborted or reset while a party waited (Python: `threading.BrokenBarrierError`). */
export class BrokenBarrierError extends MultiprocError {}

/**
 * The holder of a lock or semaphore permit died (killed, crashed) without
 * releasing it. Thrown once, to the waiter that noticed; that waiter took the
 * permit back, so the lock is free again, but the data it guarded may be half
 * updated. Python has no equivalent: it waits forever.
 */
export class AbandonedLockError extends MultiprocError {
  /** Kernel thread id of the holder that died (undefined when rebuilt from another process). */
  readonly owner: number | undefined;
  constructor(message?: string, options?: MultiprocErrorOptions & { owner?: number }) {
    super(message, options);
    this.owner = options?.owner;
  }
}

/** Misuse of a process or pool, or a child that failed (Python: `ProcessError`). */
export class ProcessError extends MultiprocError {}

/**
 * A value cannot be sent to another process (Python: `pickle.PicklingError`).
 * `path` names where inside the sent value the problem is, e.g. `args[1].handler`.
 */
export class PicklingError extends MultiprocError {
  readonly path: string;
  constructor(message: string, path: string, options?: MultiprocErrorOptions) {
    super(message, options);
    this.path = path;
  }
}

/** A backend failed at the operating-system level (a system call, a missing runtime feature). */
export class BackendError extends MultiprocError {
  readonly errno: number | undefined;
  constructor(message: string, options?: MultiprocErrorOptions & { errno?: number }) {
    super(message, options);
    this.errno = options?.errno;
  }
}

/**
 * A named shared memory segment could not be opened or made. `code` names
 * the errno as Node's file errors do: "ENOENT" (no segment of that name;
 * Python: `FileNotFoundError`), "EEXIST" (the name is taken; Python:
 * `FileExistsError`), "EACCES"...; `segment` is the name.
 */
export class SharedMemoryError extends BackendError {
  readonly code: string;
  readonly segment: string;
  constructor(message: string, options?: MultiprocErrorOptions & { errno?: number; code?: string; segment?: string }) {
    super(message, options);
    this.code = options?.code ?? "";
    this.segment = options?.segment ?? "";
  }
}

/** Invalid configuration: an unknown backend, a bad option (Python raises `ValueError`). */
export class ConfigError extends MultiprocError {}

/**
 * A peer of a `Listener` or `Client` did not prove it knows the auth key, or
 * refused the proof this side gave (Python: `multiprocessing.AuthenticationError`).
 */
export class AuthenticationError extends MultiprocError {}

/** Every error class by name, so an error that crossed a process can be rebuilt as its class. */
export const errorClasses = {
  MultiprocError,
  Empty,
  Full,
  TimeoutError,
  EOFError,
  BrokenBarrierError,
  AbandonedLockError,
  ProcessError,
  PicklingError,
  BackendError,
  SharedMemoryError,
  ConfigError,
  AuthenticationError,
} as const;
