/**
 * The spawn backend's parent side (Python: `popen_spawn_posix`): a fresh `bun`
 * runs `entry.ts`, which reads the bootstrap message from descriptor 3.
 */
import { constants } from "node:os";
import type { ChildHandle, LaunchRequest } from "@multiproc/core";
import { native } from "@multiproc/core/internal";
import { INHERITED_FDS_ENV } from "./inherited-fds.ts";

const ENTRY = new URL("./entry.ts", import.meta.url).pathname;
function signalNumber(signal: NodeJS.Signals | number): number {
  return typeof signal === "number" ? signal : ((constants.signals as Record<string, number>)[signal] ?? 0);
}

/** Starts `bun entry.ts` with the bootstrap message on descriptor 3. */
export function launch(request: LaunchRequest): ChildHandle {
  if (request.bootstrap === undefined) throw new Error("The spawn backend needs a bootstrap message");
  const message = native.memfdWith(request.bootstrap);
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn([process.execPath, ENTRY], {
      // Descriptors in the arguments follow the bootstrap message: 4, 5, ... in the child.
      stdio: ["ignore", "inherit", "inherit", message, ...request.fds],
      env: request.fds.length === 0 ? process.env : { ...process.env, [INHERITED_FDS_ENV]: String(request.fds.length) },
    });
  } finally {
    native.closeFd(message);
  }
  // Like Python, the parent does not wait for children just because they
  // exist: the exit hook joins them. `wait` refs it while someone awaits.
  child.unref();
  const pidfd = native.pidfdOpen(child.pid);
  let closed = false;

  const poll = (): number | null => {
    if (child.exitCode !== null) return child.exitCode;
    if (child.signalCode !== null) return -signalNumber(child.signalCode);
    // Bun reaps on its event loop; until it has, read the status without reaping.
    return closed ? null : native.peekExitStatus(pidfd);
  };

  return {
    pid: child.pid,
    sentinel: pidfd,
    poll,
    waitSync(timeoutMs) {
      if (poll() === null && !closed) native.pollReadable(pidfd, timeoutMs);
      return poll();
    },
    async wait(timeoutMs) {
      if (poll() !== null) return poll();
      child.ref();
      let timer: Timer | undefined;
      try {
        await Promise.race([
          child.exited,
          new Promise<void>((resolve) => {
            if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        child.unref();
      }
      return poll();
    },
    signal(sig) {
      if (poll() !== null) return; // Already ended: nothing to signal (Python tolerates this too).
      try {
        child.kill(sig);
      } catch {
        // It ended between the check and the signal.
      }
    },
    close() {
      if (!closed) {
        closed = true;
        native.closeFd(pidfd);
      }
    },
  };
}
