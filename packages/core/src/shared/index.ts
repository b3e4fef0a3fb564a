/** Shared memory: the arena every synchronization primitive and shared value is carved from. */
export { allocate, attach, Block, type BlockHandle, segmentFds } from "./arena.ts";
