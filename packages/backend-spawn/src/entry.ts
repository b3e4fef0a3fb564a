/**
 * The spawn backend's child entry: read the bootstrap message from
 * descriptor 3, arrange to die with the parent, run, exit with the code.
 */
// The lean part of core a child needs to start (see core's child-realm.ts),
// and the two native files this entry uses, not all of core.
import { bootstrapChild, loads, reportUncaught, setInheritedFds } from "@multiproc/core/child-realm";
import { closeFd, readWhole } from "@multiproc/core/native/file.ts";
import { dieWithParent } from "@multiproc/core/native/parent-death.ts";
import { INHERITED_FDS_ENV } from "./inherited-fds.ts";

const BOOTSTRAP_FD = 3;
const SIGKILL = 9;
const SIGTERM = 15;

const INHERITED_FD = 4;

const bytes = readWhole(BOOTSTRAP_FD);
closeFd(BOOTSTRAP_FD);
const message = loads(bytes) as { daemon?: unknown; parent?: { pid?: unknown } };
const parentPid = typeof message.parent?.pid === "number" ? message.parent.pid : process.ppid;
// A child whose parent was killed must not live on: daemons die at once,
// others get SIGTERM. If the parent is already gone, stop here.
if (!dieWithParent(message.daemon === true ? SIGKILL : SIGTERM, parentPid)) process.exit(1);
// Descriptors handed over at start (LaunchRequest.fds) are 4, 5, ...; launch says how many.
const fdCount = Number(process.env[INHERITED_FDS_ENV] ?? 0);
delete process.env[INHERITED_FDS_ENV];
setInheritedFds(Array.from({ length: fdCount }, (_, i) => INHERITED_FD + i));
// An error that escapes run() (thrown from a timer, a promise nobody awaits)
// ends the child with 1 and its stack, as it would end a plain program: Bun
// otherwise ignores it while this entry's top-level await is pending.
const name = (message as { name?: unknown }).name;
const crash = (error: unknown): void => {
  reportUncaught(typeof name === "string" ? name : "child", error);
  process.exit(1);
};
process.on("uncaughtException", crash);
process.on("unhandledRejection", crash);
process.exit(await bootstrapChild(message));
