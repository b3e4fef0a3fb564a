/**
 * Importing the library loads only what its names need: the module of each
 * class loads with the first object of that class. Each module costs every
 * spawn or worker child that imports the program's modules (see the start +
 * join rows of `bun run bench`), so a child whose module imports `Lock` must not load the Pool.
 */
import { expect, test } from "bun:test";

test("importing @multiproc/core loads no class module (SharedMemory, ShareableList, SharedMemoryManager included); making a Lock loads the Lock's alone", () => {
  const program = new URL("./fixtures/report-loaded.ts", import.meta.url).pathname;
  const r = Bun.spawnSync([process.execPath, program], { stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  expect(r.stderr.toString()).toBe("");
  const { atImport, afterLock } = JSON.parse(r.stdout.toString()) as { atImport: string[]; afterLock: string[] };
  const classModules =
    /^(sync\/(lock|rlock|semaphore|condition|event|barrier)|channel\/(queue|pipe|simple-queue|joinable-queue|listener|auth|connection-wait)|native\/stream-socket|shared\/(value|array)|shared-memory\/(shared-memory|shareable-list|shared-memory-manager|tracker)|pool\/pool|managers\/[a-z-]+)\.ts$/;
  expect(atImport.filter((file) => classModules.test(file))).toEqual([]);
  expect(afterLock.filter((file) => classModules.test(file))).toEqual(["sync/lock.ts"]);
});
