/** What backend packages need from core; not part of the public API. */
export { registerBackend } from "./backend-registry.ts";
export { bootstrapChild, reportUncaught } from "./child.ts";
export { loads } from "./codec/index.ts";
export * as native from "./native/index.ts";
