/**
 * SharedMemoryManager: makes segments and unlinks them all at `shutdown()`
 * or when its program ends (Python:
 * `multiprocessing.managers.SharedMemoryManager`). Python runs a server
 * process that owns the segments; here the program's own shared memory
 * tracker plays that part, so no process is started: a normal end unlinks
 * quietly, a killed program's tracker unlinks them with its warning.
 */
import { ProcessError, SharedMemoryError } from "../errors.ts";
import { ShareableList, type ShareableValue } from "./shareable-list.ts";
import { SharedMemory } from "./shared-memory.ts";

type State = "new" | "started" | "shutdown";

/** Managers started and not shut down, unlinked at the program's end. */
const live = new Set<SharedMemoryManager>();
let exitHook = false;

/**
 * Makes SharedMemory segments and ShareableLists and unlinks every one of
 * them at `shutdown()` (or `using`), or when the program ends.
 *
 * @example
 * ```ts
 * using smm = new SharedMemoryManager();
 * smm.start();
 * const shm = smm.SharedMemory(1024);
 * const sl = smm.ShareableList([1, 2, 3]);
 * // ... hand them to children; at the end of the block both are unlinked
 * ```
 */
export class SharedMemoryManager {
  #state: State = "new";
  /** What this manager made, by name, until it unlinks them. */
  readonly #made = new Map<string, SharedMemory>();

  /**
   * Starts the manager (Python: `start`).
   * @throws ProcessError when started twice or after shutdown
   */
  start(): void {
    if (this.#state !== "new") {
      throw new ProcessError(
        `Cannot start a SharedMemoryManager twice: it is ${this.#state === "started" ? "running" : "shut down"}`,
      );
    }
    this.#state = "started";
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on("exit", () => {
        for (const m of live) m.shutdown();
      });
    }
  }

  #check(doing: string): void {
    if (this.#state !== "started") {
      throw new ProcessError(
        `Cannot ${doing}: the SharedMemoryManager is ${this.#state === "new" ? "not started; call start() first" : "shut down"}`,
      );
    }
  }

  /**
   * A new segment of `size` bytes, unlinked at shutdown (Python: `SharedMemory(size)`).
   * @throws RangeError for a size that is not a positive integer; ProcessError when not started
   */
  SharedMemory(size: number): SharedMemory {
    this.#check("make a SharedMemory");
    const shm = new SharedMemory({ create: true, size });
    this.#made.set(shm.name, shm);
    return shm;
  }

  /**
   * A new ShareableList of `items`, unlinked at shutdown (Python: `ShareableList(sequence)`).
   * @throws TypeError / RangeError as `new ShareableList`; ProcessError when not started
   */
  ShareableList(items?: Iterable<ShareableValue> | null): ShareableList {
    this.#check("make a ShareableList");
    const list = new ShareableList(items ?? []);
    this.#made.set(list.shm.name, list.shm);
    return list;
  }

  /**
   * Unlinks every segment this manager made (Python: `shutdown`). Mappings
   * stay usable until closed; no process can attach any more. Calling it
   * again does nothing.
   */
  shutdown(): void {
    if (this.#state !== "started") {
      this.#state = "shutdown";
      return;
    }
    this.#state = "shutdown";
    live.delete(this);
    for (const shm of this.#made.values()) {
      try {
        shm.unlink();
      } catch (error) {
        // Unlinked already by its user: that is allowed.
        if (!(error instanceof SharedMemoryError && error.code === "ENOENT")) throw error;
      }
    }
    this.#made.clear();
  }

  /** `using smm = new SharedMemoryManager()`: shuts it down at the end of the block. */
  [Symbol.dispose](): void {
    this.shutdown();
  }

  toString(): string {
    return `SharedMemoryManager(${this.#state}, ${this.#made.size} segments)`;
  }
}
