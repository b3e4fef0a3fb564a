// What Node, Deno and browsers load instead of the package: it runs on Bun only.
throw new Error(
  `multiproc runs on Bun 1.4.5 or later (https://bun.sh), not on ${typeof process === "object" && process.release ? `${process.release.name} ${process.version}` : "this runtime"}: run your program with bun`,
);
