/** Every message between a parent and its children, as zod schemas with a plain fast check each (parse.ts). */
export { type Bootstrap, bootstrapSchema, type ExportRef, isBootstrap, parseBootstrap } from "./bootstrap.ts";
export {
  isPrepare,
  isWorkerStart,
  type PrepareMessage,
  parsePrepare,
  parseWorkerStart,
  prepareSchema,
  type WorkerStartMessage,
  workerStartSchema,
} from "./control.ts";
export { parseMessage } from "./parse.ts";
export { decodeStart, encodeStart, isStartHeader, type StartHeader, startHeaderSchema } from "./start.ts";
export {
  type FnRef,
  INITIALIZER_FAILED,
  type Items,
  isReply,
  isTask,
  Kind,
  parseReply,
  parseTask,
  type ReplyMessage,
  replySchema,
  type TaskMessage,
  taskSchema,
} from "./task.ts";
