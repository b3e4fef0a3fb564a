/**
 * The spawn backend's child entry: load core's child side, wait on
 * descriptor 3 for the start message (a spare process waits there until a
 * `start()` needs it, and loads core's public entry meanwhile), take on the parent's working directory and
 * environment, arrange to die with the parent (a daemon), run, exit with
 * the code.
 */
// The lean part of core a child needs to start (see core's child-realm.ts),
// and the few native calls that take a start message (process-child.ts), not all of core.
import { closeFd, runChildEntry, setInheritedFds, warmPublicApi } from "@multiproc/core/child-realm";
import { decodeStart, dieWithParent, readWhole, receiveSome, waitReady } from "@multiproc/core/process-child";
import { START_FD } from "./start-message.ts";

const SIGKILL = 9;
const SIGTERM = 15;
/** PR_SET_PDEATHSIG with no signal: the child no longer ends with its parent. */
const NO_SIGNAL = 0;

// Waiting, a spare must not outlive the parent that made it.
if (!dieWithParent(SIGTERM, process.ppid)) process.exit(0);

/** Waits for one byte on the start socket; appends the descriptors it carries. False at end of stream. */
function receiveByte(fds: number[]): boolean {
  const byte = new Uint8Array(1);
  // Blocks until the parent sends, or closes its end (then 0: end of stream).
  while (waitReady(START_FD, "read", undefined)) {
    const n = receiveSome(START_FD, byte, 0, 1, fds);
    if (n >= 0) return n > 0;
  }
  return false;
}

// While this process waits for its child (a spare), it loads core's public
// entry, which nearly every target module imports, as the worker backend's
// spare does; the start message waits in the socket meanwhile. A process
// made for a start that is already here does not: its target may import
// nothing of core.
if (!waitReady(START_FD, "read", 0)) await warmPublicApi();

const received: number[] = [];
// None when the parent let this process go unused.
if (!receiveByte(received)) process.exit(0);
const messageFd = received.shift()!;
const { header, bootstrap } = decodeStart(readWhole(messageFd));
closeFd(messageFd);
// More descriptors than one message carries come in more bytes.
let open = true;
while (open && received.length < header.fds) open = receiveByte(received);
closeFd(START_FD);
const inherited = received;
process.chdir(header.cwd);
// Descriptors handed over at start (LaunchRequest.fds), in order.
setInheritedFds(inherited);

await runChildEntry({
  bootstrap,
  env: header.env,
  fallbackName: "child",
  beforeRun(message) {
    const parentPid = typeof message.parent?.pid === "number" ? message.parent.pid : process.ppid;
    // Python's rule: a daemon child ends with its parent, at once (and stops here
    // when the parent is already gone); any other child lives on, re-parented,
    // so the spare's request above is cancelled.
    if (message.daemon === true) {
      if (!dieWithParent(SIGKILL, parentPid)) process.exit(1);
    } else dieWithParent(NO_SIGNAL, parentPid);
  },
});
