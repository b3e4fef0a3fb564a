/**
 * ListProxy (Python: `managers.ListProxy`): Python's list methods, each a
 * call to the server, in both forms; negative indices count from the end.
 */
import { BaseProxy } from "./proxy.ts";

/** A proxy of a list held by a manager (Python: `ListProxy`). */
export class ListProxy<V = unknown> extends BaseProxy {
  static readonly proxyKind = "list";

  /** The item at `i` (Python: `l[i]`). @throws IndexError out of range */
  get(i: number): Promise<V> {
    return this._callMethod("get", [i]) as Promise<V>;
  }
  getSync(i: number): V {
    return this._callMethodSync("get", [i]) as V;
  }
  async set(i: number, value: V): Promise<void> {
    await this._callMethod("set", [i, value]);
  }
  setSync(i: number, value: V): void {
    this._callMethodSync("set", [i, value]);
  }
  /** Python: `len(l)`. */
  length(): Promise<number> {
    return this._callMethod("length") as Promise<number>;
  }
  lengthSync(): number {
    return this._callMethodSync("length") as number;
  }
  async append(value: V): Promise<void> {
    await this._callMethod("append", [value]);
  }
  appendSync(value: V): void {
    this._callMethodSync("append", [value]);
  }
  async extend(values: Iterable<V>): Promise<void> {
    await this._callMethod("extend", [[...values]]);
  }
  extendSync(values: Iterable<V>): void {
    this._callMethodSync("extend", [[...values]]);
  }
  async insert(i: number, value: V): Promise<void> {
    await this._callMethod("insert", [i, value]);
  }
  insertSync(i: number, value: V): void {
    this._callMethodSync("insert", [i, value]);
  }
  /** Removes and returns the item at `i` (default the last). @throws IndexError */
  pop(i = -1): Promise<V> {
    return this._callMethod("pop", [i]) as Promise<V>;
  }
  popSync(i = -1): V {
    return this._callMethodSync("pop", [i]) as V;
  }
  /** Removes the first item equal to `value`. @throws ValueError when there is none */
  async remove(value: V): Promise<void> {
    await this._callMethod("remove", [value]);
  }
  removeSync(value: V): void {
    this._callMethodSync("remove", [value]);
  }
  /** Where the first item equal to `value` is. @throws ValueError when there is none */
  index(value: V, start?: number, stop?: number): Promise<number> {
    return this._callMethod("index", args(value, start, stop)) as Promise<number>;
  }
  indexSync(value: V, start?: number, stop?: number): number {
    return this._callMethodSync("index", args(value, start, stop)) as number;
  }
  count(value: V): Promise<number> {
    return this._callMethod("count", [value]) as Promise<number>;
  }
  countSync(value: V): number {
    return this._callMethodSync("count", [value]) as number;
  }
  async reverse(): Promise<void> {
    await this._callMethod("reverse");
  }
  reverseSync(): void {
    this._callMethodSync("reverse");
  }
  /** Sorts in place in Python's order. */
  async sort(opts: { reverse?: boolean } = {}): Promise<void> {
    await this._callMethod("sort", [opts]);
  }
  sortSync(opts: { reverse?: boolean } = {}): void {
    this._callMethodSync("sort", [opts]);
  }
  /** A plain array of the items from `start` to `end` (Python: `l[start:end]`). */
  slice(start?: number, end?: number): Promise<V[]> {
    return this._callMethod("slice", [start, end]) as Promise<V[]>;
  }
  sliceSync(start?: number, end?: number): V[] {
    return this._callMethodSync("slice", [start, end]) as V[];
  }
  /** A plain array of the items (Python: `l[:]`). */
  copy(): Promise<V[]> {
    return this._callMethod("copy") as Promise<V[]>;
  }
  copySync(): V[] {
    return this._callMethodSync("copy") as V[];
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<V> {
    for (let i = 0; ; ) {
      const [, items] = (await this._callMethod("iterChunk", [null, i])) as [number, V[]];
      if (items.length === 0) return;
      yield* items;
      i += items.length;
    }
  }
  *iterSync(): Generator<V> {
    for (let i = 0; ; ) {
      const [, items] = this._callMethodSync("iterChunk", [null, i]) as [number, V[]];
      if (items.length === 0) return;
      yield* items;
      i += items.length;
    }
  }
}

function args(value: unknown, start?: number, stop?: number): unknown[] {
  return stop !== undefined ? [value, start ?? 0, stop] : start !== undefined ? [value, start] : [value];
}
