/**
 * Loads `@multiproc/cluster` the way backend-registry.ts loads a backend: on
 * first use, from core, the app's main module or the working directory, with
 * a ConfigError naming the package when the app does not have it (#22).
 */
import { ConfigError } from "./errors.ts";
import type { ClusterQueue, ClusterQueueOptions } from "./channel/cluster-queue.ts";
import type { ClusterPool, ClusterPoolOptions } from "./pool/cluster-pool.ts";

/** What core needs from the cluster package. */
export interface ClusterModule {
  /** Makes a cluster Pool; connects in the background. @throws ConfigError for a bad option */
  Pool(opts: ClusterPoolOptions): ClusterPool;
  /** Makes a cluster Queue; connects in the background. @throws ConfigError for a bad option */
  Queue<T>(opts: ClusterQueueOptions): ClusterQueue<T>;
}

/**
 * Whether `Pool(arg)` or `Queue(arg)` asks for the cluster: an object with a
 * `cluster` key. Here, not beside the cluster types, so the public entry loads
 * no module of pool/ for it (a child that uses no Pool never does).
 */
export function isClusterPoolOptions(arg: unknown): arg is ClusterPoolOptions {
  return typeof arg === "object" && arg !== null && "cluster" in arg;
}

/** Whether `Queue(arg)` asks for a cluster Queue: the same test as `isClusterPoolOptions`. */
export function isClusterQueueOptions(arg: unknown): arg is ClusterQueueOptions {
  return isClusterPoolOptions(arg);
}

export const clusterPackage = "@multiproc/cluster";

let loaded: ClusterModule | undefined;

function resolveCluster(places: string[]): string | undefined {
  for (const from of places) {
    try {
      return Bun.resolveSync(clusterPackage, from);
    } catch {
      // Not reachable from here: try the next place.
    }
  }
  return undefined;
}

/** Where the package is looked for: core itself, the app's main module, the working directory. */
function defaultPlaces(): string[] {
  const { dirname } = require("node:path") as typeof import("node:path");
  return [import.meta.dir, dirname(Bun.main), process.cwd()];
}

/**
 * The cluster package, loaded on first use.
 * @param places Directories to resolve it from (tests pass their own).
 * @throws ConfigError when it is not installed
 */
export function loadCluster(places = defaultPlaces()): ClusterModule {
  if (loaded !== undefined) return loaded;
  const path = resolveCluster(places);
  if (path === undefined) {
    throw new ConfigError(
      `The Pool option "cluster" needs the package ${clusterPackage}: add it to your app (bun add ${clusterPackage})`,
    );
  }
  const mod = require(path) as { cluster?: ClusterModule };
  if (typeof mod.cluster?.Pool !== "function" || typeof mod.cluster.Queue !== "function") {
    throw new ConfigError(
      `Package ${clusterPackage} at ${path} does not export "cluster" with Pool and Queue factories`,
    );
  }
  loaded = mod.cluster;
  return loaded;
}
