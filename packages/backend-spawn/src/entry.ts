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
import { decodeStart, dieWithParent, parentIs, readWhole, receiveSome, waitReady } from "@multiproc/core/process-child";
import { START_FD } from "./start-message.ts";

const SIGKILL = 9;
/**
 * How often a waiting spare checks that its parent lives (ms): the parent's
 * end of the start socket closes with it, unless a child of the parent (a
 * fork child) holds a copy.
 */
const PARENT_CHECK_MS = 100;

// Waiting, a spare must not outlive the parent that made it. Not by
// PR_SET_PDEATHSIG, nor by leaving as soon as the parent is gone: either would
// also end a process whose parent sent it a non-daemon child's start and was
// killed before this process read it (the child must live on, #18 point 4).
// So a start sent is always read: the parent is looked at first, and then the
// socket, where whatever it sent before it ended is waiting.
const parent = process.ppid;

/** Whether nothing more can come: the parent is gone, and sent nothing that waits. */
function abandoned(): boolean {
  return !parentIs(parent) && !waitReady(START_FD, "read", 0);
}

/** Waits for one byte on the start socket; appends the descriptors it carries. False at end of stream, or parent gone. */
function receiveByte(fds: number[]): boolean {
  const byte = new Uint8Array(1);
  for (;;) {
    // Until the parent sends, closes its end (then 0: end of stream), or is gone.
    if (!waitReady(START_FD, "read", PARENT_CHECK_MS)) {
      if (abandoned()) return false;
      continue;
    }
    const n = receiveSome(START_FD, byte, 0, 1, fds);
    if (n >= 0) return n > 0;
  }
}

// While this process waits for its child (a spare), it loads core's public
// entry, which nearly every target module imports, as the worker backend's
// spare does; the start message waits in the socket meanwhile. A process
// made for a start that is already here does not: its target may import
// nothing of core.
if (!waitReady(START_FD, "read", 0)) {
  if (abandoned()) process.exit(0);
  await warmPublicApi();
}

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
    // when the parent is already gone); any other child lives on, re-parented.
    if (message.daemon === true && !dieWithParent(SIGKILL, parentPid)) process.exit(1);
  },
});
