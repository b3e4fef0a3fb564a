/** The workloads every system is measured on, by name, so results line up across systems. */
export const W = {
  startJoin: "start + join of a no-op child",
  startJoinApart: "start + join of a no-op child, 30 ms after the last one ended",
  start8: "start + join of 8 children in parallel",
  lockUncontended: "Lock acquire + release, uncontended",
  lockContended: "Lock acquire + release, 2 processes contending",
  pipeSmall: "Pipe round trip, small object",
  pipe1K: "Pipe round trip, 1 KiB bytes object",
  pipe1M: "Pipe round trip, 1 MiB bytes object",
  sharedArray: "Array('d') of 10M doubles, 4 children add 1 to a quarter each (start + update + join)",
  sharedMemory: "SharedMemory of 64 MiB by name, 4 children attach and fill a quarter each (start + fill + join)",
} as const;

/** The pause before each start of `W.startJoinApart` (python-suite.py sleeps as long). */
export const APART_MS = 30;

export type WorkloadName = (typeof W)[keyof typeof W];

/** The payloads of the Pipe round trips with a bytes object, by workload (Python: `bytes`, ours: `Uint8Array`). */
export const PIPE_PAYLOADS = [
  { workload: W.pipe1K, bytes: 1 << 10 },
  { workload: W.pipe1M, bytes: 1 << 20 },
] as const;
