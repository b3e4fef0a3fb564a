/**
 * Starting a helper program with posix_spawn: glibc's vfork + exec runs no
 * JavaScript in the new process, so it is safe from any realm, a fork child
 * too (where the runtime's own process machinery may not work). Used for the
 * shared memory tracker (Python: `resource_tracker`'s `spawnv_passfds`).
 */
import { ptr } from "bun:ffi";
import { fail, libc } from "./libc.ts";

/** Bytes reserved for glibc's posix_spawn_file_actions_t (80 on x86_64) and posix_spawnattr_t (336). */
const FILE_ACTIONS_BYTES = 256;
const ATTR_BYTES = 1024;
const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const O_WRONLY = 1;

/** What `spawnHelper` gives the new program. */
export interface HelperOptions {
  /** Descriptor that becomes the program's standard input. */
  readonly stdin: number;
  /** Its working directory. */
  readonly cwd: string;
  /** Its whole environment, `KEY=value` strings. */
  readonly env: readonly string[];
}

function cStrings(list: readonly string[]): { table: BigUint64Array; keep: Buffer[] } {
  const keep = list.map((s) => Buffer.from(`${s}\0`));
  const table = new BigUint64Array(list.length + 1);
  keep.forEach((b, i) => {
    table[i] = BigInt(ptr(b));
  });
  return { table, keep };
}

/**
 * Starts `argv[0]` with `argv`, standard output on /dev/null, standard error
 * shared with this process, no signal blocked, in a process group of its
 * own (a Ctrl-C at the terminal does not reach it). Nobody waits for it: it
 * must outlive this process, and is reaped by init once it ends.
 * @returns Its pid.
 * @throws BackendError when it cannot be started
 */
export function spawnHelper(argv: readonly string[], opts: HelperOptions): number {
  const actions = new Uint8Array(FILE_ACTIONS_BYTES);
  const attr = new Uint8Array(ATTR_BYTES);
  const noSignals = new Uint8Array(128);
  const pid = new Int32Array(1);
  const args = cStrings(argv);
  const env = cStrings(opts.env);
  const devNull = Buffer.from("/dev/null\0");
  const cwd = Buffer.from(`${opts.cwd}\0`);
  let code = libc.posix_spawn_file_actions_init(ptr(actions));
  if (code !== 0) fail("posix_spawn_file_actions_init", code);
  try {
    code = libc.posix_spawnattr_init(ptr(attr));
    if (code !== 0) fail("posix_spawnattr_init", code);
    try {
      const steps = [
        libc.posix_spawn_file_actions_adddup2(ptr(actions), opts.stdin, 0),
        libc.posix_spawn_file_actions_addopen(ptr(actions), 1, devNull, O_WRONLY, 0),
        libc.posix_spawn_file_actions_addchdir_np(ptr(actions), cwd),
        libc.posix_spawnattr_setflags(ptr(attr), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK),
        libc.posix_spawnattr_setpgroup(ptr(attr), 0),
        libc.posix_spawnattr_setsigmask(ptr(attr), ptr(noSignals)),
      ];
      const bad = steps.find((c) => c !== 0);
      if (bad !== undefined) fail("posix_spawn setup", bad);
      code = libc.posix_spawn(
        ptr(pid),
        Buffer.from(`${argv[0]}\0`),
        ptr(actions),
        ptr(attr),
        ptr(args.table),
        ptr(env.table),
      );
      if (code !== 0) fail(`posix_spawn(${argv[0]})`, code);
    } finally {
      libc.posix_spawnattr_destroy(ptr(attr));
    }
  } finally {
    libc.posix_spawn_file_actions_destroy(ptr(actions));
  }
  // Keep the strings alive until posix_spawn has read them.
  void args.keep.length;
  void env.keep.length;
  void devNull.length;
  void cwd.length;
  return pid[0]!;
}
