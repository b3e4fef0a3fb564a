/** The shared-memory arena below sync/ and shared/: every Lock, Event, Value and Array is a block carved from it. */
export { allocate, arenaRoot, attach, Block, type BlockHandle, segmentFds } from "./arena.ts";
