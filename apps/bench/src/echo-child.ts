/** A Bun.spawn IPC peer that sends every message back. */
process.on("message", (m) => process.send?.(m));
