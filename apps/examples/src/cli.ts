/** The examples' command line: `--backend fork|spawn|worker` picks the start method. */
import { type BackendName, setStartMethod } from "@multiproc/core";

/** Applies `--backend NAME` from the command line, if given; returns the name. */
export function backendFromArgs(argv: string[] = Bun.argv): BackendName | undefined {
  const at = argv.indexOf("--backend");
  if (at === -1) return undefined;
  const name = argv[at + 1] as BackendName;
  setStartMethod(name, { force: true });
  return name;
}
