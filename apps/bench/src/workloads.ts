/** The workloads every system is measured on, by name, so results line up across systems. */
export const W = {
  startJoin: "start + join of a no-op child",
  start8: "start + join of 8 children in parallel",
  lockUncontended: "Lock acquire + release, uncontended",
  lockContended: "Lock acquire + release, 2 processes contending",
  pipeSmall: "Pipe round trip, small object",
} as const;

export type WorkloadName = (typeof W)[keyof typeof W];
