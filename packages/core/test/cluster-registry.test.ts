/** Core's loader of @multiproc/cluster (#22). */
import { expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { ConfigError } from "../src/errors.ts";
import { loadCluster } from "../src/cluster-registry.ts";
import { isClusterPoolOptions } from "../src/cluster-registry.ts";

test("loadCluster throws ConfigError naming @multiproc/cluster when the app does not have it", () => {
  expect(() => loadCluster([tmpdir()])).toThrow(ConfigError);
  expect(() => loadCluster([tmpdir()])).toThrow("bun add @multiproc/cluster");
});

test("isClusterPoolOptions tells a cluster Pool's options from a local Pool's", () => {
  expect(isClusterPoolOptions({ cluster: { servers: "nats://h:4222" }, name: "x" })).toBe(true);
  expect(isClusterPoolOptions({ processes: 2 })).toBe(false);
  expect(isClusterPoolOptions(4)).toBe(false);
  expect(isClusterPoolOptions(undefined)).toBe(false);
});
