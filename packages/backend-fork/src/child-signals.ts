/**
 * A fork child's own signal listeners (`process.on("SIGTERM", ...)` in the
 * target). The runtime's handler would queue the signal for the runtime's
 * event loop, which a fork child never runs. So as soon as the child adds a
 * listener for one of these signals (before the runtime installs its
 * handler: `newListener` comes first), the signal is blocked, and the
 * child's loop takes it from the pending set and emits it: listeners run
 * between the loop's turns, as in Node. One that comes when no listener is
 * left gets its default action. The parent's listeners never run here.
 */
import { constants } from "node:os";
import { native } from "@multiproc/core/internal";

/** Signals whose listeners the parent may have added, and that the child's own listeners may take. */
export const SIGNAL_EVENTS = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGALRM",
  "SIGTERM",
  "SIGCHLD",
  "SIGWINCH",
] as const;

const NUMBERS = constants.signals as Record<string, number>;

/** The running fork child's signals: undefined in a process that is not a fork child, where the listener below does nothing. */
let active: ChildSignals | undefined;
let installed = false;

/**
 * One listener for the life of the program, added in the parent before its
 * first fork: a child that added its own would write the process's emitter,
 * pages it copies on its way in (#23).
 */
function onNewListener(event: string | symbol): void {
  active?.hold(event);
}

/** The signals a fork child listens to, held for its loop. */
export class ChildSignals {
  /** Numbers of the held signals. */
  readonly #held: number[] = [];

  /** Blocks `event`'s signal, when it is one of SIGNAL_EVENTS, for the child's loop to take. */
  hold(event: string | symbol): void {
    if (typeof event !== "string" || !(SIGNAL_EVENTS as readonly string[]).includes(event)) return;
    const signal = NUMBERS[event]!;
    if (this.#held.includes(signal)) return;
    native.holdSignal(signal);
    this.#held.push(signal);
  }

  /**
   * Call in the child, before its target runs: listeners added from then on
   * are the child's own. With `dry` (in the parent, before its first fork) it
   * only adds the program's listener.
   */
  listen(dry: boolean): void {
    if (!installed) {
      installed = true;
      process.on("newListener", onNewListener);
    }
    if (!dry) active = this;
  }

  /** Whether the child listens to some signal (then the loop looks for one every turn). */
  get listening(): boolean {
    return this.#held.length > 0;
  }

  /**
   * Waits at most `ms` (0: just looks) for a held signal; returns the name to
   * emit, or undefined when none came (or one came with no listener left,
   * and its default action did not end the process).
   */
  take(ms: number): string | undefined {
    if (this.#held.length === 0) {
      if (ms > 0) Bun.sleepSync(ms);
      return undefined;
    }
    const signal = native.takeSignal(this.#held, ms);
    if (signal === 0) return undefined;
    const name = SIGNAL_EVENTS.find((n) => NUMBERS[n] === signal)!;
    if (process.listenerCount(name) > 0) return name;
    // Every listener was removed since: the signal does what it would have done.
    this.#held.splice(this.#held.indexOf(signal), 1);
    native.releaseSignal(signal);
    process.kill(process.pid, signal);
    return undefined;
  }
}
