/**
 * The reducer registry: how library objects (Lock, Queue, Connection...) travel,
 * as a type -> reducer table (mirrors Python's `copyreg` / `ForkingPickler.register`).
 */

import { RESERVED_TAG_PREFIX } from "./_wire.ts";

/**
 * How instances of one class travel: `reduce` turns an object into sendable
 * state (itself encoded by the codec, recursively), `rebuild` makes an object
 * from that state in the receiving process. Mirrors `__reduce__`.
 */
export interface Reducer<T extends object> {
  /** Unique name of the class on the wire, e.g. `"multiproc.Lock"`. Must not start with `#`. */
  readonly tag: string;
  /** Returns the state to send. Should have no side effects: `dumps` may still fail afterwards. */
  reduce(obj: T): unknown;
  /** Makes the object again from the state `reduce` returned. */
  rebuild(state: unknown): T;
}

type AnyClass<T> = abstract new (...a: never[]) => T;

const byPrototype = new Map<object, Reducer<object>>();
const byTag = new Map<string, { cls: AnyClass<object>; reducer: Reducer<object> }>();
let version = 0;

/**
 * Registers how instances of `cls` (and of its subclasses that have no reducer
 * of their own) are sent to another process. Registering a class again replaces
 * its reducer. Mirrors Python's `copyreg.pickle(cls, reducer)`.
 *
 * @param cls The class whose instances the reducer handles.
 * @param reducer Its wire tag, `reduce` and `rebuild`.
 * @throws {TypeError} When the tag is empty, starts with `#`, or belongs to another class.
 * @example
 * ```ts
 * registerReducer(Lock, {
 *   tag: "multiproc.Lock",
 *   reduce: (lock) => lock.handle(),
 *   rebuild: (handle) => Lock.attach(handle as LockHandle),
 * });
 * ```
 */
export function registerReducer<T extends object>(cls: AnyClass<T>, reducer: Reducer<T>): void {
  const { tag } = reducer;
  if (typeof tag !== "string" || tag === "" || tag.startsWith(RESERVED_TAG_PREFIX)) {
    throw new TypeError(`Invalid reducer tag: ${JSON.stringify(tag)}; use a non-empty name not starting with "#"`);
  }
  const owner = byTag.get(tag);
  if (owner !== undefined && owner.cls !== cls) {
    throw new TypeError(
      `Reducer tag "${tag}" is already registered for class "${owner.cls.name}"; choose a unique tag`,
    );
  }
  // Callers type the reducer by T; the registry stores it for any object of that class.
  const stored = reducer as unknown as Reducer<object>;
  byPrototype.set(cls.prototype as object, stored);
  byTag.set(tag, { cls, reducer: stored });
  version++;
}

/** The reducer for objects with this prototype: the nearest one up the prototype chain. */
export function reducerFor(proto: object): Reducer<object> | undefined {
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const found = byPrototype.get(p);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Per tag family (a tag up to its first "."), the load of the module that
 * registers its reducer; an entry is dropped once used.
 */
const loaders = new Map<string, () => void>();

/**
 * Defers loading the library's own reducers until a payload needs one: a
 * child realm loads the module of a Queue when it is sent a Queue, and none
 * when it is sent no library object (each module costs a new realm time).
 * @param load Per tag family (`"Lock"`, `"SharedArray"` for `"SharedArray.Int32Array"`),
 *   a function that imports (synchronously) the module that registers it.
 */
export function loadReducersOnDemand(load: Readonly<Record<string, () => void>>): void {
  for (const [family, loader] of Object.entries(load)) loaders.set(family, loader);
}

/** The reducer registered under `tag`, for `loads`. */
export function reducerByTag(tag: string): Reducer<object> | undefined {
  const hit = byTag.get(tag);
  if (hit !== undefined || loaders.size === 0) return hit?.reducer;
  const dot = tag.indexOf(".");
  const family = dot < 0 ? tag : tag.slice(0, dot);
  const load = loaders.get(family);
  if (load === undefined) return undefined;
  loaders.delete(family);
  load();
  return byTag.get(tag)?.reducer;
}

/** Changes whenever a reducer is registered, so caches of prototype lookups can be dropped. */
export function registryVersion(): number {
  return version;
}
