/**
 * Choosing the default backend: `setStartMethod`, then the environment
 * variable MULTIPROC_BACKEND, then the `"multiproc"` object of the app's
 * package.json (the nearest one from the working directory upward), else spawn.
 */
import type { z } from "zod";
import { ConfigError } from "./errors.ts";

/** The backends, in Python's start-method names. */
export const backendNames = ["fork", "spawn", "worker"] as const;
/** How children are started: a real fork(2), a fresh Bun process, or a Worker thread. */
export type BackendName = (typeof backendNames)[number];

/** The `"multiproc"` object of package.json. */
export interface AppConfig {
  backend?: BackendName;
}

let appConfigSchema: z.ZodType<AppConfig> | undefined;

/**
 * The zod schema of the `"multiproc"` object, built on first use: zod costs
 * a child tens of milliseconds to import, and children rarely read config.
 */
export function appConfigSchemaOf(): z.ZodType<AppConfig> {
  if (appConfigSchema === undefined) {
    const { z } = require("zod") as typeof import("zod");
    appConfigSchema = z.object({ backend: z.enum(backendNames).optional() }).strict();
  }
  return appConfigSchema;
}

/** Validates a backend name (a closed set, so no schema is needed), naming where it came from. */
export function parseBackendName(value: unknown, field: string): BackendName {
  if (!backendNames.includes(value as BackendName)) {
    throw new ConfigError(
      `Invalid ${field}: ${JSON.stringify(value)}; expected one of ${backendNames.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return value as BackendName;
}

/** Finds the nearest package.json from `start` upward that has a "multiproc" field. */
function findAppConfig(start: string): { file: string; config: unknown } | undefined {
  // Loaded here, not at the top: a child realm imports this file for
  // `backendNames` alone, and node:fs costs a worker child milliseconds to import.
  const { existsSync, readFileSync } = require("node:fs") as typeof import("node:fs");
  const { dirname, join } = require("node:path") as typeof import("node:path");
  let dir = start;
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, "utf8"));
      } catch (e) {
        throw new ConfigError(`Cannot read ${file}: ${(e as Error).message}`, { cause: e });
      }
      // The app's package.json is the nearest one, as config loaders search.
      if (json !== null && typeof json === "object") {
        return { file, config: (json as Record<string, unknown>).multiproc };
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Reads and validates the app's `"multiproc"` config; `{}` when there is none. */
export function loadAppConfig(cwd = process.cwd()): AppConfig {
  const found = findAppConfig(cwd);
  if (found === undefined || found.config === undefined) return {};
  const config = found.config;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    const json = JSON.stringify(config);
    const got = config === null ? "null" : `${Array.isArray(config) ? "an array" : `the ${typeof config}`} ${json}`;
    throw new ConfigError(`"multiproc" in ${found.file} must be an object such as { "backend": "spawn" }, got ${got}`);
  }
  const r = appConfigSchemaOf().safeParse(config);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = ["multiproc", ...issue.path.map(String)].join(".");
  const value = issue.path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined),
    config,
  );
  const detail =
    issue.code === "invalid_value" || issue.code === "invalid_type"
      ? `expected one of ${backendNames.map((n) => `"${n}"`).join(", ")}`
      : issue.message;
  throw new ConfigError(`Invalid ${field} in ${found.file}: ${JSON.stringify(value)}; ${detail}`);
}

let appConfigCache: { cwd: string; config: AppConfig } | undefined;

/** The configured default, ignoring `setStartMethod`. */
export function configuredBackend(): BackendName {
  const env = process.env.MULTIPROC_BACKEND;
  if (env !== undefined && env !== "") return parseBackendName(env, "MULTIPROC_BACKEND");
  // Every start() of a default-context Process asks: read package.json once per working directory.
  const cwd = process.cwd();
  if (appConfigCache?.cwd !== cwd) appConfigCache = { cwd, config: loadAppConfig(cwd) };
  return appConfigCache.config.backend ?? "spawn";
}
