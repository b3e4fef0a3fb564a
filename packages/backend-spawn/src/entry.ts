/**
 * The spawn backend's child entry: read the bootstrap message from
 * descriptor 3, arrange to die with the parent, run, exit with the code.
 */
import { bootstrapChild, loads, native } from "@multiproc/core/internal";

const BOOTSTRAP_FD = 3;
const SIGKILL = 9;
const SIGTERM = 15;

const bytes = native.readWhole(BOOTSTRAP_FD);
native.closeFd(BOOTSTRAP_FD);
const message = loads(bytes) as { daemon?: unknown; parent?: { pid?: unknown } };
const parentPid = typeof message.parent?.pid === "number" ? message.parent.pid : process.ppid;
// A child whose parent was killed must not live on: daemons die at once,
// others get SIGTERM. If the parent is already gone, stop here.
if (!native.dieWithParent(message.daemon === true ? SIGKILL : SIGTERM, parentPid)) process.exit(1);
process.exit(await bootstrapChild(message));
