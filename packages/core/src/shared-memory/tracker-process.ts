/**
 * The shared memory tracker's own program (Python: `resource_tracker.main`),
 * run by `tracker.ts` as a separate `bun` process. It reads registrations on
 * its standard input, one line each:
 *   `R <name as a JSON string>\n`  a tracked segment was created
 *   `U <name as a JSON string>\n`  it was unlinked (or is no longer tracked)
 * Every process of the program holds a write end of that pipe; end of input
 * means all of them have ended (normally, by an error, or SIGKILLed). It then
 * unlinks the names still registered, prints one warning naming them, and
 * exits. Lines are shorter than PIPE_BUF, so writers never interleave.
 * It imports nothing of the library: it must start fast and never fail to load.
 */
import { unlinkSync } from "node:fs";

// The terminal's Ctrl-C or a `kill` of the process group is for the program,
// not for the one process that cleans up after it (Python's tracker ignores them too).
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});

const registered = new Set<string>();
let pending = "";

function apply(line: string): void {
  const op = line.slice(0, 2);
  let name: unknown;
  try {
    name = JSON.parse(line.slice(2));
  } catch {
    return;
  }
  if (typeof name !== "string" || name === "" || name.includes("/")) return;
  if (op === "R ") registered.add(name);
  else if (op === "U ") registered.delete(name);
}

const decoder = new TextDecoder();
for await (const chunk of Bun.stdin.stream()) {
  pending += decoder.decode(chunk, { stream: true });
  let end = pending.indexOf("\n");
  while (end >= 0) {
    apply(pending.slice(0, end));
    pending = pending.slice(end + 1);
    end = pending.indexOf("\n");
  }
}

const left = [...registered];
if (left.length > 0) {
  const removed = left.filter((name) => {
    try {
      unlinkSync(`/dev/shm/${name}`);
      return true;
    } catch {
      return false; // unlinked meanwhile by a process that did not tell us
    }
  });
  if (removed.length > 0) {
    const noun = removed.length === 1 ? "segment" : "segments";
    process.stderr.write(
      `multiproc: the program ended leaving ${removed.length} shared memory ${noun} it created and did not unlink; unlinked now: ${removed.join(", ")}\n`,
    );
  }
}
process.exit(0);
