/**
 * A cluster pool's name and the broker objects named after it: one
 * JetStream work-queue stream of tasks and one stream of results per name.
 */
import { ConfigError } from "@multiproc/core";

const NAME = /^[A-Za-z0-9_-]+$/;

/** The broker names of one pool. */
export interface PoolNames {
  readonly name: string;
  /** Work-queue stream holding the tasks until a worker acknowledges them. */
  readonly taskStream: string;
  readonly taskSubject: string;
  /** Stream storing results, so a result exists before its task is acknowledged. */
  readonly resultStream: string;
  /** Prefix of every caller's result subject: `<prefix>.<caller id>`. */
  readonly resultPrefix: string;
  /** The durable pull consumer every worker host of the pool shares. */
  readonly consumer: string;
}

/** @throws ConfigError unless `name` is a non-empty string of letters, digits, `_` and `-` */
export function checkClusterName(name: unknown, what: string): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ConfigError(
      `A cluster ${what} needs a name of letters, digits, "_" and "-" (it names the broker's stream), got ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  return name;
}

/** @throws ConfigError for a bad name */
export function poolNames(given: unknown): PoolNames {
  const name = checkClusterName(given, "pool");
  return {
    name,
    taskStream: `MULTIPROC_${name}`,
    taskSubject: `multiproc.${name}.tasks`,
    resultStream: `MULTIPROC_${name}_RESULTS`,
    resultPrefix: `multiproc.${name}.results`,
    consumer: "workers",
  };
}
