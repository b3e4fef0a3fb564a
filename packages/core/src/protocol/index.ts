/** Control messages between a parent and its children, as zod schemas. */
export { type Bootstrap, bootstrapSchema, type ExportRef, isBootstrap, parseBootstrap } from "./bootstrap.ts";
