/**
 * SharedMemory: a named POSIX shared memory segment (Python:
 * `multiprocessing.shared_memory.SharedMemory`). Any process that knows the
 * name attaches to it, also one this library did not start (a Python
 * process, a plain `bun` script); it travels to other processes by name.
 */
import { registerReducer } from "../codec/reducers.ts";
import { BackendError, SharedMemoryError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { kernelRandom32 } from "../native/fork.ts";
import { Errno } from "../native/libc.ts";
import { type Mapping, unmap } from "../native/pages.ts";
import { mapObject, shmOpen, shmSize, shmUnlink } from "../native/shm.ts";
import { register, unregister } from "./tracker.ts";

/** Options of `new SharedMemory` (Python: `SharedMemory(name, create, size, *, track)`). */
export interface SharedMemoryOptions {
  /** The segment's name (no `/`); chosen for you (`psm_` and 8 hex digits) when creating without one. */
  name?: string;
  /** Make a new segment (the name must be free) instead of attaching to one. Default false. */
  create?: boolean;
  /** Bytes of a new segment (a positive integer); attaching takes the segment's own size. */
  size?: number;
  /**
   * Unlink the segment when this program ends if it created it and did not
   * unlink it (also when killed), with a warning naming it. Default true.
   */
  track?: boolean;
}

/** Longest name a file in /dev/shm may have (NAME_MAX). */
const NAME_MAX_BYTES = 255;
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  17: "EEXIST",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  36: "ENAMETOOLONG",
};

/** Python's `_make_filename`: "psm_" and 8 hex digits (from the kernel: a fork child must not repeat its parent). */
function generatedName(): string {
  return `psm_${kernelRandom32().toString(16).padStart(8, "0")}`;
}

/**
 * Checks a segment name given by the caller.
 * @throws TypeError for a non-string; RangeError for an empty name, one with `/` or NUL, ".", "..", or over 255 bytes
 */
export function checkName(name: unknown): string {
  if (typeof name !== "string") {
    throw new TypeError(`SharedMemory name must be a string, got ${typeof name}`);
  }
  const bad =
    name === ""
      ? "it is empty"
      : name.includes("/")
        ? 'it contains "/"'
        : name.includes("\0")
          ? "it contains a NUL character"
          : name === "." || name === ".."
            ? "it names a folder"
            : Buffer.byteLength(name) > NAME_MAX_BYTES
              ? `it is longer than ${NAME_MAX_BYTES} bytes`
              : undefined;
  if (bad !== undefined) throw new RangeError(`Invalid SharedMemory name ${JSON.stringify(name)}: ${bad}`);
  return name;
}

/** A SharedMemoryError for a failed open or unlink of `name`, or the error itself when it is not one of those. */
function segmentError(error: unknown, name: string, doing: string): unknown {
  if (!(error instanceof BackendError) || error.errno === undefined) return error;
  const code = ERRNO_NAMES[error.errno] ?? `errno ${error.errno}`;
  const why =
    error.errno === Errno.ENOENT
      ? "no such segment (it was never made, or was unlinked)"
      : error.errno === Errno.EEXIST
        ? "a segment of that name exists; attach to it (create: false) or choose another name"
        : code;
  return new SharedMemoryError(`Cannot ${doing} shared memory segment "${name}": ${why}`, {
    errno: error.errno,
    code,
    segment: name,
    cause: error,
  });
}

/**
 * A mapping is unmapped once its ArrayBuffer is garbage (no view of it is
 * left) when `close()` was never called: unmapping while a view is alive
 * would make reading it crash the process.
 */
const dropped = new FinalizationRegistry<Pick<Mapping, "address" | "size">>((map) => unmap(map));

/**
 * A named block of shared memory (Python: `SharedMemory`). `buf` is a
 * `Uint8Array` over a MAP_SHARED mapping: every process that attaches by
 * `name` sees the same bytes. `close()` gives up this process's mapping;
 * `unlink()` removes the name (the memory goes once every process closed it).
 *
 * @example
 * ```ts
 * using shm = new SharedMemory({ create: true, size: 1024 });
 * shm.buf[0] = 42;
 * const other = new SharedMemory({ name: shm.name }); // in any process
 * other.buf[0]; // 42
 * shm.unlink();
 * ```
 */
export class SharedMemory {
  readonly #name: string;
  readonly #size: number;
  readonly #track: boolean;
  #map: Mapping | undefined;
  #buf: Uint8Array | undefined;

  /**
   * Creates (`create: true`) or attaches to (by `name`) a segment.
   * @throws SharedMemoryError with `code` "ENOENT" (attaching to a missing name) or "EEXIST" (creating a taken name)
   * @throws RangeError for a size that is not a positive integer when creating, a negative size, or a bad name
   * @throws TypeError when attaching without a name, or for options of the wrong type
   */
  constructor(opts: SharedMemoryOptions = {}) {
    if (typeof opts !== "object" || opts === null) {
      throw new TypeError(`SharedMemory options must be an object, got ${opts === null ? "null" : typeof opts}`);
    }
    const { create = false, track = true } = opts;
    if (typeof create !== "boolean") throw new TypeError(`SharedMemory create must be a boolean, got ${typeof create}`);
    if (typeof track !== "boolean") throw new TypeError(`SharedMemory track must be a boolean, got ${typeof track}`);
    const size = opts.size ?? 0;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0 || (create && size === 0)) {
      throw new RangeError(
        `SharedMemory size must be a positive integer${create ? "" : " or 0"}, got ${String(opts.size)}`,
      );
    }
    if (!create && opts.name === undefined) {
      throw new TypeError("SharedMemory needs the name of the segment to attach to, or create: true to make one");
    }
    let name = opts.name === undefined ? generatedName() : checkName(opts.name);
    let fd: number;
    for (;;) {
      try {
        fd = shmOpen(name, create, size);
        break;
      } catch (error) {
        // A generated name that happens to be taken: draw another (Python does the same).
        if (opts.name === undefined && error instanceof BackendError && error.errno === Errno.EEXIST) {
          name = generatedName();
          continue;
        }
        throw segmentError(error, name, create ? "create" : "attach to");
      }
    }
    try {
      const bytes = create ? size : shmSize(fd);
      if (bytes === 0) throw new RangeError(`Cannot attach to shared memory segment "${name}": it is empty (0 bytes)`);
      this.#map = mapObject(fd, bytes);
      this.#size = bytes;
    } catch (error) {
      if (create) shmUnlink(name);
      throw error;
    } finally {
      // The mapping keeps the memory; the descriptor is not needed past this point.
      closeFd(fd);
    }
    this.#name = name;
    this.#track = track;
    this.#buf = new Uint8Array(this.#map.buffer);
    dropped.register(this.#map.buffer, { address: this.#map.address, size: this.#map.size }, this);
    if (create && track) {
      try {
        register(name);
      } catch (error) {
        this.close();
        shmUnlink(name);
        throw error;
      }
    }
  }

  /** The segment's name, without a leading `/` (Python: `name`). */
  get name(): string {
    return this.#name;
  }

  /** Its size in bytes (Python: `size`). */
  get size(): number {
    return this.#size;
  }

  /**
   * The segment's bytes (Python: `buf`).
   * @throws TypeError after `close()`
   */
  get buf(): Uint8Array {
    if (this.#buf === undefined) {
      throw new TypeError(`SharedMemory "${this.#name}" is closed: its buf is no longer available`);
    }
    return this.#buf;
  }

  /**
   * Gives up this process's mapping (Python: `close`). Every view of `buf`
   * becomes empty (its buffer is detached), so none can reach unmapped
   * memory. Does not unlink; calling it again does nothing.
   */
  close(): void {
    const map = this.#map;
    if (map === undefined) return;
    this.#map = undefined;
    this.#buf = undefined;
    dropped.unregister(this);
    map.buffer.transfer(0);
    unmap(map);
  }

  /**
   * Removes the segment's name (Python: `unlink`): no process can attach any
   * more; the memory goes once every process has closed it. Call it once,
   * from any process. A tracked segment is no longer unlinked at the end.
   * @throws SharedMemoryError with `code` "ENOENT" when the name is already gone
   */
  unlink(): void {
    let removed: boolean;
    try {
      removed = shmUnlink(this.#name);
    } catch (error) {
      throw segmentError(error, this.#name, "unlink");
    }
    if (this.#track) unregister(this.#name);
    if (!removed) {
      throw new SharedMemoryError(`Cannot unlink shared memory segment "${this.#name}": it was already unlinked`, {
        errno: Errno.ENOENT,
        code: "ENOENT",
        segment: this.#name,
      });
    }
  }

  /** `using shm = new SharedMemory(...)` closes it at the end of the block; it never unlinks. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Python's repr: `SharedMemory('psm_1a2b3c4d', size=1024)`. */
  toString(): string {
    return `SharedMemory('${this.#name}', size=${this.#size})`;
  }

  static {
    registerReducer(SharedMemory, {
      tag: "SharedMemory",
      // By name, as Python's __reduce__: the receiver attaches (ENOENT once unlinked).
      reduce: (shm) => ({ name: shm.#name }),
      rebuild: (state) => new SharedMemory({ name: (state as { name: string }).name }),
    });
  }
}
