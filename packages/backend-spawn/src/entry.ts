/**
 * The spawn backend's child entry: read the bootstrap message from
 * descriptor 3, arrange to die with the parent, run, exit with the code.
 */
import { bootstrapChild, loads, native, setInheritedFds } from "@multiproc/core/internal";
import { INHERITED_FDS_ENV } from "./launch.ts";

const BOOTSTRAP_FD = 3;
const SIGKILL = 9;
const SIGTERM = 15;

const INHERITED_FD = 4;

const bytes = native.readWhole(BOOTSTRAP_FD);
native.closeFd(BOOTSTRAP_FD);
const message = loads(bytes) as { daemon?: unknown; parent?: { pid?: unknown } };
const parentPid = typeof message.parent?.pid === "number" ? message.parent.pid : process.ppid;
// A child whose parent was killed must not live on: daemons die at once,
// others get SIGTERM. If the parent is already gone, stop here.
if (!native.dieWithParent(message.daemon === true ? SIGKILL : SIGTERM, parentPid)) process.exit(1);
// Descriptors handed over at start (LaunchRequest.fds) are 4, 5, ...; launch says how many.
const fdCount = Number(process.env[INHERITED_FDS_ENV] ?? 0);
delete process.env[INHERITED_FDS_ENV];
setInheritedFds(Array.from({ length: fdCount }, (_, i) => INHERITED_FD + i));
process.exit(await bootstrapChild(message));
