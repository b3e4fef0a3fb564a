/** The operating-system layer: the only place that reaches libc through `bun:ffi`. */
export { futexWait, futexWake, type WaitResult } from "./futex.ts";
export { Errno } from "./libc.ts";
export { attachSegment, createSegment, memfdWith, readWhole, type Segment } from "./memfd.ts";
export { dieWithParent } from "./parent-death.ts";
export { closeFd, peekExitStatus, pidfdOpen, pollReadable } from "./pidfd.ts";
export { resetThreadId, threadId } from "./thread.ts";
