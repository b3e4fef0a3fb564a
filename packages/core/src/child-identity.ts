/**
 * Who this realm is as a child, handed from the bootstrap (child.ts) to the
 * process tree (process.ts) through this leaf module, so that neither imports
 * the other: the bootstrap records the child here, and `process.ts` adopts it
 * as `currentProcess()` when it loads (at once when it already has). A plain
 * target whose module never loads `process.ts` thus runs without it (loading
 * it costs a worker child's start milliseconds), and its Process object still
 * exists before anyone can ask for it.
 */

/** What the child learns about itself from its parent. */
export interface ChildIdentity {
  name: string;
  daemon: boolean;
  identity: number[];
  parent: { pid: number; name: string };
  /** The parent's auth key for this child; a fork child without one keeps the key it inherited. */
  authkey?: Uint8Array | undefined;
}

/** A child of the base class, as its bootstrap made it: what `new Process(opts)` needs, and who it is. */
export interface RecordedChild {
  readonly who: ChildIdentity;
  readonly opts: { target: ((...a: unknown[]) => unknown) | undefined; args: unknown[]; name: string; daemon: boolean };
  readonly fields: Record<string, unknown>;
  /** Its Process object, once `process.ts` made it. */
  proc?: { readonly name: string; run(): unknown };
}

let recorded: RecordedChild | undefined;
let adopter: ((child: RecordedChild) => void) | undefined;
/** The module this child is importing to find its target, while it does (Python's bootstrapping phase). */
let importing: string | undefined;

/** Records this realm's child: adopted now if `process.ts` is loaded, else as it loads. */
export function recordChild(child: RecordedChild): void {
  if (adopter !== undefined) adopter(child);
  else recorded = child;
}

/** Called once by `process.ts` as it loads: adopts the child recorded so far, and any later one. */
export function adoptRecordedChildren(adopt: (child: RecordedChild) => void): void {
  adopter = adopt;
  const child = recorded;
  recorded = undefined;
  if (child !== undefined) adopt(child);
}

/** The module this child is importing to find its target, while it does; else undefined. */
export function bootstrapping(): string | undefined {
  return importing;
}

/** Marks the bootstrap's import of the program's modules (undefined: done). */
export function setBootstrapping(module: string | undefined): void {
  importing = module;
}
