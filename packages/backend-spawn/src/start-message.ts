/**
 * Where a spawn child is given its start: one byte on its descriptor 3 (a
 * unix socket), carrying descriptors: a memfd with the start message (core's
 * protocol/start.ts), then the descriptors of `LaunchRequest.fds` (more bytes
 * follow when they are more than one message carries).
 */

/** The child's end of the socket. */
export const START_FD = 3;
