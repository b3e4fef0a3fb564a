/** The time limit of an awaited join (`wait(timeoutMs)`) of a worker child, supervised or not. */

/** A promise that resolves after `ms` (never, when undefined), whether it did, and a way to cancel it. */
export interface WaitTimer {
  readonly expired: Promise<void>;
  timedOut(): boolean;
  cancel(): void;
}

export function waitTimer(ms: number | undefined): WaitTimer {
  let timer: Timer | undefined;
  let timedOut = false;
  const expired = new Promise<void>((resolve) => {
    if (ms !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, ms);
    }
  });
  return { expired, timedOut: () => timedOut, cancel: () => clearTimeout(timer) };
}
