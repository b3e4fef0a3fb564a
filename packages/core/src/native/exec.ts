/**
 * Re-executing the running program in place (execve of /proc/self/exe with
 * the exact original argv from /proc/self/cmdline): same pid, same
 * descriptors (those without close-on-exec), a new environment. Used to
 * start the runtime again with settings it reads only at start-up.
 */
import { ptr } from "bun:ffi";
import { readFileText } from "./file.ts";
import { errno, libc } from "./libc.ts";

/** The environment the process was started with (not `process.env`, which the program may have changed). */
export function startupEnvironment(): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readFileText("/proc/self/environ").split("\0")) {
    const at = entry.indexOf("=");
    if (at > 0) out.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return out;
}

function cStrings(list: string[]): { table: BigUint64Array; keep: Buffer[] } {
  const keep = list.map((s) => Buffer.from(`${s}\0`));
  const table = new BigUint64Array(list.length + 1);
  keep.forEach((b, i) => {
    table[i] = BigInt(ptr(b));
  });
  return { table, keep };
}

/**
 * Replaces the process image with a fresh start of the same command line
 * and `env`. Returns only on failure, with the errno.
 */
export function reexecSelf(env: Record<string, string | undefined>): number {
  const argv = readFileText("/proc/self/cmdline").split("\0");
  if (argv.at(-1) === "") argv.pop();
  const args = cStrings(argv);
  const vars = cStrings(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  libc.execve(Buffer.from("/proc/self/exe\0"), ptr(args.table), ptr(vars.table));
  const e = errno();
  // Keep the strings alive until execve has read them.
  void args.keep.length;
  void vars.keep.length;
  return e;
}
