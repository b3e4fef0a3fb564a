/**
 * Library objects that every spawn or worker child started from now on takes
 * on as it starts, before its target's module loads (Python: what spawn's
 * preparation data carries beside the target, such as the resource
 * tracker's descriptor). They travel in the bootstrap's `inherit` field, as
 * codec bytes; rebuilding one in the child is what takes it on. A fork child
 * has them already, as it has all of its parent's memory.
 */

const objects = new Set<object>();

/**
 * Hands `obj` (an instance of a class with a reducer) to every child started
 * from now on.
 */
export function inheritByChildren(obj: object): void {
  objects.add(obj);
}

/** What a child started now inherits; empty for most programs. */
export function inheritedObjects(): object[] {
  return [...objects];
}
