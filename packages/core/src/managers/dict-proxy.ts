/**
 * DictProxy (Python: `managers.DictProxy`): the methods of a `Map` plus
 * Python's `update pop popitem setDefault copy`, each a call to the server,
 * in both forms; async iterable over the keys (the iterator throws when the
 * dict changed size meanwhile) and `iterSync()`.
 */
import { BaseProxy } from "./proxy.ts";

/** A key of a manager dict. */
export type DictKey = string | number | bigint | boolean;

/** A proxy of a dict held by a manager (Python: `DictProxy`). */
export class DictProxy<K extends DictKey = DictKey, V = unknown> extends BaseProxy {
  static readonly proxyKind = "dict";

  /** The value of `key`, or `fallback` (default undefined) when missing. */
  get(key: K, fallback?: V): Promise<V | undefined> {
    return this._callMethod("get", fallback === undefined ? [key] : [key, fallback]) as Promise<V | undefined>;
  }
  getSync(key: K, fallback?: V): V | undefined {
    return this._callMethodSync("get", fallback === undefined ? [key] : [key, fallback]) as V | undefined;
  }
  set(key: K, value: V): Promise<void> {
    return this._callMethod("set", [key, value]) as Promise<void>;
  }
  setSync(key: K, value: V): void {
    this._callMethodSync("set", [key, value]);
  }
  has(key: K): Promise<boolean> {
    return this._callMethod("has", [key]) as Promise<boolean>;
  }
  hasSync(key: K): boolean {
    return this._callMethodSync("has", [key]) as boolean;
  }
  delete(key: K): Promise<boolean> {
    return this._callMethod("delete", [key]) as Promise<boolean>;
  }
  deleteSync(key: K): boolean {
    return this._callMethodSync("delete", [key]) as boolean;
  }
  async clear(): Promise<void> {
    await this._callMethod("clear");
  }
  clearSync(): void {
    this._callMethodSync("clear");
  }
  keys(): Promise<K[]> {
    return this._callMethod("keys") as Promise<K[]>;
  }
  keysSync(): K[] {
    return this._callMethodSync("keys") as K[];
  }
  values(): Promise<V[]> {
    return this._callMethod("values") as Promise<V[]>;
  }
  valuesSync(): V[] {
    return this._callMethodSync("values") as V[];
  }
  entries(): Promise<[K, V][]> {
    return this._callMethod("entries") as Promise<[K, V][]>;
  }
  entriesSync(): [K, V][] {
    return this._callMethodSync("entries") as [K, V][];
  }
  /** The number of entries (Python: `len(d)`). */
  size(): Promise<number> {
    return this._callMethod("size") as Promise<number>;
  }
  sizeSync(): number {
    return this._callMethodSync("size") as number;
  }
  /** Calls `fn` here for each entry of a snapshot. */
  async forEach(fn: (value: V, key: K, dict: this) => void): Promise<void> {
    for (const [k, v] of await this.entries()) fn(v, k, this);
  }
  forEachSync(fn: (value: V, key: K, dict: this) => void): void {
    for (const [k, v] of this.entriesSync()) fn(v, k, this);
  }
  /** Sets every pair of `other` (Python: `update`). */
  async update(other: Record<string, V> | Iterable<[K, V]>): Promise<void> {
    await this._callMethod("update", [toPairs(other)]);
  }
  updateSync(other: Record<string, V> | Iterable<[K, V]>): void {
    this._callMethodSync("update", [toPairs(other)]);
  }
  /** Removes `key` and returns its value (Python: `pop`). @throws KeyError when missing and no fallback is given */
  pop(key: K, ...fallback: [V?]): Promise<V> {
    return this._callMethod("pop", [key, ...fallback]) as Promise<V>;
  }
  popSync(key: K, ...fallback: [V?]): V {
    return this._callMethodSync("pop", [key, ...fallback]) as V;
  }
  /** Removes and returns the last pair inserted (Python: `popitem`). @throws KeyError when empty */
  popitem(): Promise<[K, V]> {
    return this._callMethod("popitem") as Promise<[K, V]>;
  }
  popitemSync(): [K, V] {
    return this._callMethodSync("popitem") as [K, V];
  }
  /** The value of `key`, set to `fallback` (default null) first when missing (Python: `setdefault`). */
  setDefault(key: K, fallback: V | null = null): Promise<V> {
    return this._callMethod("setDefault", [key, fallback]) as Promise<V>;
  }
  setDefaultSync(key: K, fallback: V | null = null): V {
    return this._callMethodSync("setDefault", [key, fallback]) as V;
  }
  /** A plain `Map` with the entries (Python: `copy`, which returns a dict). */
  copy(): Promise<Map<K, V>> {
    return this._callMethod("copy") as Promise<Map<K, V>>;
  }
  copySync(): Map<K, V> {
    return this._callMethodSync("copy") as Map<K, V>;
  }

  /** The keys, fetched in chunks; throws when the dict changed size meanwhile. */
  async *[Symbol.asyncIterator](): AsyncGenerator<K> {
    let version: number | null = null;
    for (let i = 0; ; ) {
      const [v, keys] = (await this._callMethod("iterChunk", [version, i])) as [number, K[]];
      version = v;
      if (keys.length === 0) return;
      yield* keys;
      i += keys.length;
    }
  }
  /** Blocking iteration over the keys. */
  *iterSync(): Generator<K> {
    let version: number | null = null;
    for (let i = 0; ; ) {
      const [v, keys] = this._callMethodSync("iterChunk", [version, i]) as [number, K[]];
      version = v;
      if (keys.length === 0) return;
      yield* keys;
      i += keys.length;
    }
  }
}

function toPairs<K, V>(other: Record<string, V> | Iterable<[K, V]>): [unknown, unknown][] | Record<string, V> {
  if (other instanceof DictProxy) return other.entriesSync() as [unknown, unknown][];
  return Symbol.iterator in Object(other) ? [...(other as Iterable<[K, V]>)] : (other as Record<string, V>);
}
