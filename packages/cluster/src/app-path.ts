/**
 * Module paths relative to the app's root (the nearest package.json from the
 * working directory up), so hosts with the same checkout in different places
 * agree on what a task names.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { PicklingError } from "@multiproc/core";

let root: string | undefined;

/** The app's root directory: where its package.json is, else the working directory. */
export function appRoot(): string {
  root ??= findRoot(process.cwd());
  return root;
}

function findRoot(cwd: string): string {
  for (let dir = cwd; ; ) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) return cwd;
    dir = up;
  }
}

/** `module` (absolute) relative to the app root, with `/`. @throws PicklingError for a module outside the app */
export function toAppPath(module: string, what: string): string {
  const rel = relative(appRoot(), module).split(sep).join("/");
  if (rel.startsWith("../") || isAbsolute(rel)) {
    throw new PicklingError(
      `Cannot send ${what} to the cluster: its module ${module} is outside the app at ${appRoot()}, which worker hosts find modules in`,
      "fn",
    );
  }
  return rel;
}

/** The absolute path of an app-relative module path. */
export function fromAppPath(rel: string): string {
  return join(appRoot(), rel);
}
