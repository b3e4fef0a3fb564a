/** Named shared memory (Python: `multiprocessing.shared_memory`): SharedMemory, ShareableList, SharedMemoryManager. */
export { ShareableList, type ShareableListOptions, type ShareableValue } from "./shareable-list.ts";
export { SharedMemory, type SharedMemoryOptions } from "./shared-memory.ts";
export { SharedMemoryManager } from "./shared-memory-manager.ts";
