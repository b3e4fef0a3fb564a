/**
 * A spawn child as its parent sees it: a `bun` process running `entry.ts`,
 * made (`prepareProcess`) before it has a child to run, waiting on a socket
 * for its start message, and given one by `begin` (see core's protocol/start.ts).
 */
import { constants } from "node:os";
import { BackendError, type ChildHandle } from "@multiproc/core";
import { encodeStart, native, type SpareChild } from "@multiproc/core/internal";

const ENTRY = new URL("./entry.ts", import.meta.url).pathname;

function signalNumber(signal: NodeJS.Signals | number): number {
  return typeof signal === "number" ? signal : ((constants.signals as Record<string, number>)[signal] ?? 0);
}

/** Starts `bun entry.ts` with one end of a new socket as its descriptor 3; it waits there for its child. */
export function prepareProcess(): SpawnedChild {
  const [parentEnd, childEnd] = native.socketPair("stream");
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn([process.execPath, ENTRY], {
      stdio: ["ignore", "inherit", "inherit", childEnd], // its START_FD (3)
      env: process.env,
    });
  } catch (error) {
    native.closeFd(parentEnd);
    throw error;
  } finally {
    native.closeFd(childEnd);
  }
  return new SpawnedChild(child, parentEnd);
}

/** A `bun` process, then the child it runs (`begin`). */
export class SpawnedChild implements ChildHandle, SpareChild {
  readonly pid: number;
  /** The process's pidfd: readable once it has ended. */
  readonly sentinel: number;
  readonly #child: ReturnType<typeof Bun.spawn>;
  /** Our end of the socket the start message goes through; -1 once sent or let go. */
  #socket: number;
  #closed = false;

  constructor(child: ReturnType<typeof Bun.spawn>, socket: number) {
    this.#child = child;
    this.#socket = socket;
    this.pid = child.pid;
    this.sentinel = native.pidfdOpen(child.pid);
    // Like Python, the parent does not wait for children just because they
    // exist: the exit hook joins them. `wait` refs it while someone awaits.
    child.unref();
  }

  /** Sends the child its start message: the bootstrap bytes, descriptors to hand over, and this process's cwd and environment now. */
  begin(bootstrap: Uint8Array, fds: readonly number[]): void {
    const env = { ...process.env } as Record<string, string>;
    const message = native.memfdWith(encodeStart({ cwd: process.cwd(), env, fds: fds.length }, bootstrap));
    try {
      // A byte per message of descriptors on a fresh socket: the kernel takes them at once.
      const all = [message, ...fds];
      for (let at = 0; at < all.length; at += native.MAX_FDS) {
        const part = all.slice(at, at + native.MAX_FDS);
        while (native.sendParts(this.#socket, ONE_BYTE, undefined, part) < 0) {
          // Full: only with many descriptors, while the child still loads core.
          if (!native.waitReady(this.#socket, "write", SEND_TIMEOUT_MS)) {
            throw new BackendError(
              `The spawn child ${this.pid} took none of its start message in ${SEND_TIMEOUT_MS} ms`,
            );
          }
        }
      }
    } finally {
      native.closeFd(message);
      this.#letGo();
    }
  }

  get ended(): Promise<unknown> {
    return this.#child.exited;
  }

  /** Whether it may still be given a child: not yet given one, and still running. */
  get usable(): boolean {
    return this.#socket >= 0 && this.poll() === null;
  }

  /** Ends it unused: closing the socket makes it exit; waits at most `timeoutMs` for that. */
  dismiss(timeoutMs: number): void {
    this.#letGo();
    native.pollReadable(this.sentinel, timeoutMs);
    this.close();
  }

  /** In a fork child: closes this copy's descriptors of the parent's spare (its socket end, its pidfd). */
  forget(): void {
    this.#letGo();
    this.close();
  }

  #letGo(): void {
    if (this.#socket < 0) return;
    native.closeFd(this.#socket);
    this.#socket = -1;
  }

  poll(): number | null {
    const child = this.#child;
    if (child.exitCode !== null) return child.exitCode;
    if (child.signalCode !== null) return -signalNumber(child.signalCode);
    // Bun reaps on its event loop; until it has, read the status without reaping.
    return this.#closed ? null : native.peekExitStatus(this.sentinel);
  }

  waitSync(timeoutMs: number | undefined): number | null {
    if (this.poll() === null && !this.#closed) native.pollReadable(this.sentinel, timeoutMs);
    return this.poll();
  }

  async wait(timeoutMs: number | undefined): Promise<number | null> {
    if (this.poll() !== null) return this.poll();
    if (native.inForkChild()) return this.#pollUntil(timeoutMs);
    this.#child.ref();
    let timer: Timer | undefined;
    try {
      await Promise.race([
        this.#child.exited,
        new Promise<void>((resolve) => {
          if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#child.unref();
    }
    return this.poll();
  }

  /** A fork child runs none of Bun's process events: look at the pidfd between timer steps. */
  async #pollUntil(timeoutMs: number | undefined): Promise<number | null> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (let step = 1; this.poll() === null && !this.#closed; step = Math.min(step * 2, POLL_STEP_MAX_MS)) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await Bun.sleep(Math.min(step, left));
    }
    return this.poll();
  }

  signal(signal: 9 | 15): void {
    if (this.poll() !== null) return; // Already ended: nothing to signal (Python tolerates this too).
    try {
      this.#child.kill(signal);
    } catch {
      // It ended between the check and the signal.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.closeFd(this.sentinel);
  }
}

const ONE_BYTE = new Uint8Array([1]);
/** The longest step between two looks at an ended child from inside a fork child (ms). */
const POLL_STEP_MAX_MS = 20;
/** How long `begin` waits for room in the socket (ms): a child that loads core takes milliseconds. */
const SEND_TIMEOUT_MS = 20_000;
