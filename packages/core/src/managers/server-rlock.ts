/**
 * The RLock a manager server holds (Python: `threading.RLock` in the
 * server): owned by one caller (`caller.ts`: a thread of a process), taken
 * again by its owner, released by its owner only. It lives in the server's
 * one thread, so its state is plain fields; a waiting acquire is a Promise
 * the server awaits, never a block.
 */
import { checkTimeout } from "../timeout.ts";

/** Python's RuntimeError, rebuilt by name at the caller. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/** The options of a manager lock's acquire (Python: `acquire(blocking, timeout)`). */
export interface ServerAcquireOptions {
  block?: boolean;
  timeout?: number;
}

interface Waiter {
  readonly owner: string;
  readonly depth: number;
  readonly grant: () => void;
}

/** A re-entrant lock owned by a caller id (Python: `SyncManager.RLock`'s referent). */
export class ServerRLock {
  #owner: string | null = null;
  #depth = 0;
  readonly #waiters: Waiter[] = [];

  /**
   * Takes the lock for `owner`, again when it owns it already.
   * @returns false when not taken (non-blocking, or the timeout passed)
   */
  async acquire(owner: string, opts: ServerAcquireOptions = {}): Promise<boolean> {
    const ms = checkTimeout(opts.timeout, "RLock.acquire");
    return this._take(owner, 1, opts.block === false ? 0 : ms);
  }

  /**
   * Releases one level.
   * @throws RuntimeError when `owner` does not own the lock
   */
  release(owner: string): void {
    if (this.#owner !== owner) {
      throw new RuntimeError(
        this.#owner === null
          ? "cannot release un-acquired lock"
          : "cannot release un-acquired lock: the RLock is owned by another thread or process",
      );
    }
    if (--this.#depth === 0) this.#handOver();
  }

  /** Whether `owner` owns the lock (Python: `RLock._is_owned`). */
  _isOwned(owner: string): boolean {
    return this.#owner === owner;
  }

  /** Releases every level of `owner` and returns the depth (Python: `_release_save`). */
  _releaseAll(): number {
    const depth = this.#depth;
    this.#depth = 0;
    this.#handOver();
    return depth;
  }

  /** Takes the lock for `owner` at `depth` levels, waiting `ms` at most (undefined: no limit). */
  _take(owner: string, depth: number, ms: number | undefined): Promise<boolean> {
    if (this.#owner === owner) {
      this.#depth += depth;
      return Promise.resolve(true);
    }
    if (this.#owner === null) {
      this.#owner = owner;
      this.#depth = depth;
      return Promise.resolve(true);
    }
    if (ms === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        owner,
        depth,
        grant: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(waiter);
      if (ms !== undefined) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(false);
        }, ms);
      }
    });
  }

  /** Gives the free lock to the longest waiter, in the same step, so that no later caller overtakes it. */
  #handOver(): void {
    const next = this.#waiters.shift();
    this.#owner = next?.owner ?? null;
    this.#depth = next?.depth ?? 0;
    next?.grant();
  }

  toString(): string {
    return `<RLock(${this.#owner ?? "None"}, ${this.#depth})>`;
  }
}
