/** A file that test tasks append a line to each time they run, so a test can count runs against results. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunLog extends Disposable {
  path: string;
  /** The lines written so far. */
  lines(): string[];
  /** How many runs were logged so far. */
  runs(): number;
}

/** A fresh, empty run log; removed when disposed, pass or fail. */
export function runLog(): RunLog {
  const dir = mkdtempSync(join(tmpdir(), "multiproc-runs-"));
  const path = join(dir, "runs");
  writeFileSync(path, "");
  const lines = () => readFileSync(path, "utf8").split("\n").slice(0, -1);
  return {
    path,
    lines,
    runs: () => lines().length,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}
