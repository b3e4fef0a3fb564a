/**
 * `bun run demo`: every reference program on every backend this machine can
 * run, each as its own `bun` process, exactly as a user would start it.
 */
import { backendNames, getAllStartMethods } from "@multiproc/core";
import "@multiproc/backend-spawn";

const programs = ["multi1", "multi2", "multi3", "multi4", "multi5", "primes"];
const usable = new Set(getAllStartMethods());
let failed = 0;

for (const program of programs) {
  for (const backend of backendNames) {
    console.log(`\n=== ${program} --backend ${backend}`);
    if (!usable.has(backend)) {
      console.log(`(skipped: the ${backend} backend is not available in this build yet)`);
      continue;
    }
    const file = new URL(`./${program}.ts`, import.meta.url).pathname;
    const child = Bun.spawnSync([process.execPath, file, "--backend", backend], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (child.exitCode !== 0) {
      failed += 1;
      console.log(`!!! ${program} on ${backend} exited with ${child.exitCode ?? child.signalCode}`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
