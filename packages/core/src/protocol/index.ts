/** Control messages between a parent and its children, as zod schemas. */
export { type Bootstrap, BootstrapSchema, type ExportRef, ExportRefSchema, parseBootstrap } from "./bootstrap.ts";
