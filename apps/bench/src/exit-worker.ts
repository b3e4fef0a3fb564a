/** A Worker that exits at its first message: the bare floor of a worker child's start + join. */
addEventListener("message", () => process.exit(0));
