#!/usr/bin/env bun
/**
 * `multiproc worker ...`: serves a cluster pool's tasks from a local Pool
 * until SIGINT or SIGTERM, then finishes the tasks it holds and exits.
 */
import { ConfigError } from "@multiproc/core";
import { HELP, parseWorkerArgs, USAGE, WorkerHost } from "../src/index.ts";

const [command, ...rest] = process.argv.slice(2);
if (command === "--help" || command === "help" || (command === "worker" && rest.includes("--help"))) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (command !== "worker") {
  process.stderr.write(`${command === undefined ? "No command given" : `Unknown command ${command}`}; ${USAGE}\n`);
  process.exit(2);
}
try {
  const opts = parseWorkerArgs(rest);
  const host = await WorkerHost.start(opts);
  process.stdout.write(
    `multiproc worker: serving ${opts.name} with ${opts.processes} ${opts.backend} processes (${opts.modules.join(" ")})\n`,
  );
  const stop = async () => {
    await host.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  process.stderr.write(
    `multiproc worker: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
  );
  process.exit(error instanceof ConfigError ? 2 : 1);
}
