/**
 * What must be let go before the fork backend forks this process: fork(2)
 * copies only the calling thread, so a child could wait forever on a runtime
 * lock another thread held at that moment. A thread kept for later (the
 * worker backend's spare) is ended first; the fork backend warns about the
 * user's own Worker threads.
 */

const hooks: (() => void)[] = [];

/** Runs `hook` before every fork of this process (it must return once its threads are gone). */
export function registerBeforeFork(hook: () => void): void {
  hooks.push(hook);
}

/** Called by the fork backend right before it forks. */
export function runBeforeFork(): void {
  for (const hook of hooks) hook();
}
