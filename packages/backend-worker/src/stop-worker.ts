/**
 * Stopping a worker child from its parent: the parent-side half of the stop
 * protocol of control.ts. Apart from control.ts so that the worker's entry,
 * which loads core only dynamically, does not load core's internals with it.
 */
import { native } from "@multiproc/core/internal";
import { NO_CODE, State, Word } from "./control.ts";

/**
 * The parent's side of a stop (control.ts's lifecycle): records `-signal`
 * as the exit code unless one is there, sets STOP and wakes a worker asleep
 * in a native wait, which then ends itself. A worker running JavaScript is
 * ended by `interrupt` instead, but not before it took its start message:
 * it checks STOP itself right after that and closes the message's
 * descriptors. WAITING is read after STOP was stored, and the worker clears
 * it before it reads STOP: if we see 1, it will see the stop.
 */
export function stopWorker(control: Int32Array, signal: 9 | 15, interrupt: () => void): void {
  Atomics.compareExchange(control, Word.EXIT, NO_CODE, -signal);
  Atomics.store(control, Word.STOP, signal);
  native.futexWake(native.addressOf(control, Word.STOP), 1);
  if (Atomics.load(control, Word.STATE) === State.RUNNING && Atomics.load(control, Word.WAITING) === 0) interrupt();
}
