/** The operating-system layer: the only place that reaches libc through `bun:ffi`. */
export { applyIsolation, EMPTY_PLAN, type IsolationPlan, isolateEventLoops, planIsolation } from "./epoll.ts";
export { reexecSelf, startupEnvironment } from "./exec.ts";
export {
  closeQuietly,
  exitNow,
  forkCount,
  forkProcess,
  inForkChild,
  kernelRandom32,
  makePipe,
  reapChild,
  realPid,
  writeByte,
} from "./fork.ts";
export {
  type ChildSetup,
  childSeed,
  childSetupFailure,
  countThreadsNamed,
  forkWithSetup,
  installPidGetter,
  nativeForkReady,
  nativeIsolationPlan,
  nativeForkUnavailable,
  setOwnPid,
} from "./fork-child.ts";
export { futexWait, futexWake, sleepSync, type WaitResult } from "./futex.ts";
export { closeFd, type FileStat, fileStat, readAt, readWhole } from "./file.ts";
export { bindAllSymbols, Errno } from "./libc.ts";
export { dontForkMappings, markAllForkable } from "./madvise.ts";
export { adoptSegment, attachSegment, createSegment, memfdWith, type Segment } from "./memfd.ts";
export { dieWithParent } from "./parent-death.ts";
export { parkedForever, threadAlive } from "./liveness.ts";
export { pauseWaker, waitForChange } from "./wake-on-change.ts";
export { readableWatchDescriptors, waitReadable } from "./wake-on-readable.ts";
export { peekExitStatus, pidfdOpen, pollReadable } from "./pidfd.ts";
export { type Mapping, mapShared, releasePages, unmap } from "./pages.ts";
export { type Readiness, waitReady } from "./poll.ts";
export {
  dupFd,
  MAX_FDS,
  pidfdGetfd,
  receiveSome,
  sendBufferSize,
  sendBufferUsed,
  sendParts,
  sendSome,
  setSocketBuffers,
  socketPair,
} from "./socket.ts";
export {
  blockEndSignals,
  holdSignal,
  releaseSignal,
  resetCaughtSignals,
  restoreSignalMask,
  takeSignal,
  unblockAllSignals,
} from "./signals.ts";
export { minorFaults } from "./rusage.ts";
export { resetThreadId, threadId, yieldThread } from "./thread.ts";
export { openThreadPidfd, threadPidfdSupported } from "./thread-exit.ts";
export { workerThreadCount } from "./threads.ts";
export { addressOf, installStopWord } from "./thread-stop.ts";
export { writeAllSync } from "./write-all.ts";
