/**
 * The objects a SyncManager's server holds (Python: the types registered on
 * `SyncManager`): a dict, a list and a Namespace with Python's semantics,
 * plain Value and Array holders, and the library's own Lock, Semaphore,
 * Event, Barrier and queues, used through their async methods only, so that
 * a waiting call never blocks the server. Exported: a server process started
 * by spawn or worker imports them.
 */
import { Barrier } from "../sync/barrier.ts";
import { BoundedSemaphore } from "../sync/bounded-semaphore.ts";
import { Event } from "../sync/event.ts";
import { Lock } from "../sync/lock.ts";
import { Semaphore } from "../sync/semaphore.ts";
import { JoinableQueue } from "../channel/joinable-queue.ts";
import { Queue } from "../channel/queue.ts";

function pyError(name: string): new (message: string) => Error {
  return class extends Error {
    override name = name;
  };
}
const KeyError = pyError("KeyError");
const IndexError = pyError("IndexError");
const ValueError = pyError("ValueError");
const AttributeError = pyError("AttributeError");
const RuntimeError = pyError("RuntimeError");

/** Python's `repr` of a value, as `Namespace(...)` shows it. */
export function pyRepr(v: unknown): string {
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    return q + v.replaceAll("\\", "\\\\").replaceAll(q, `\\${q}`).replaceAll("\n", "\\n") + q;
  }
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(", ")}}`;
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(", ")}}`;
  }
  return String(v);
}

const ITER_CHUNK = 256;

/** A dict keyed by strings, numbers, bigints or booleans (Python: `dict` in the server). */
export class ServerDict {
  readonly #map: Map<unknown, unknown>;
  #version = 0;

  constructor(init?: Record<string, unknown> | Iterable<[unknown, unknown]> | null) {
    this.#map = new Map();
    if (init !== undefined && init !== null) this.update(init);
  }

  #changed(before: number): void {
    if (this.#map.size !== before) this.#version++;
  }

  get(key: unknown, fallback?: unknown): unknown {
    return this.#map.has(key) ? this.#map.get(key) : fallback;
  }
  set(key: unknown, value: unknown): void {
    const n = this.#map.size;
    this.#map.set(key, value);
    this.#changed(n);
  }
  has(key: unknown): boolean {
    return this.#map.has(key);
  }
  delete(key: unknown): boolean {
    const n = this.#map.size;
    const had = this.#map.delete(key);
    this.#changed(n);
    return had;
  }
  clear(): void {
    const n = this.#map.size;
    this.#map.clear();
    this.#changed(n);
  }
  keys(): unknown[] {
    return [...this.#map.keys()];
  }
  values(): unknown[] {
    return [...this.#map.values()];
  }
  entries(): [unknown, unknown][] {
    return [...this.#map.entries()];
  }
  size(): number {
    return this.#map.size;
  }
  update(other: Record<string, unknown> | Iterable<[unknown, unknown]>): void {
    const n = this.#map.size;
    const pairs =
      other instanceof Map || Array.isArray(other) || Symbol.iterator in Object(other)
        ? (other as Iterable<[unknown, unknown]>)
        : Object.entries(other);
    for (const [k, v] of pairs) this.#map.set(k, v);
    this.#changed(n);
  }
  pop(key: unknown, ...fallback: unknown[]): unknown {
    if (!this.#map.has(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new KeyError(pyRepr(key));
    }
    const v = this.#map.get(key);
    this.delete(key);
    return v;
  }
  popitem(): [unknown, unknown] {
    if (this.#map.size === 0) throw new KeyError("popitem(): dictionary is empty");
    const last = [...this.#map.entries()].at(-1)!;
    this.delete(last[0]);
    return last;
  }
  setDefault(key: unknown, fallback: unknown = null): unknown {
    if (!this.#map.has(key)) this.set(key, fallback);
    return this.#map.get(key);
  }
  copy(): Map<unknown, unknown> {
    return new Map(this.#map);
  }
  /** Keys from `index` on, for an iterator that started at `version` (null: now); throws when the size changed. */
  iterChunk(version: number | null, index: number): [number, unknown[]] {
    if (version !== null && version !== this.#version)
      throw new RuntimeError("dictionary changed size during iteration");
    return [this.#version, [...this.#map.keys()].slice(index, index + ITER_CHUNK)];
  }
}

/** A list (Python: `list` in the server); negative indices count from the end. */
export class ServerList {
  readonly #items: unknown[];

  constructor(init?: Iterable<unknown> | null) {
    this.#items = init === undefined || init === null ? [] : [...init];
  }

  #index(i: number, what = "list index out of range"): number {
    if (!Number.isInteger(i)) throw new TypeError(`list indices must be integers, got ${pyRepr(i)}`);
    const j = i < 0 ? i + this.#items.length : i;
    if (j < 0 || j >= this.#items.length) throw new IndexError(what);
    return j;
  }

  get(i: number): unknown {
    return this.#items[this.#index(i)];
  }
  set(i: number, value: unknown): void {
    this.#items[this.#index(i, "list assignment index out of range")] = value;
  }
  length(): number {
    return this.#items.length;
  }
  append(value: unknown): void {
    this.#items.push(value);
  }
  extend(values: Iterable<unknown>): void {
    this.#items.push(...values);
  }
  insert(i: number, value: unknown): void {
    const n = this.#items.length;
    const j = i < 0 ? Math.max(0, i + n) : Math.min(i, n);
    this.#items.splice(j, 0, value);
  }
  pop(i = -1): unknown {
    if (this.#items.length === 0) throw new IndexError("pop from empty list");
    return this.#items.splice(this.#index(i, "pop index out of range"), 1)[0];
  }
  remove(value: unknown): void {
    const j = this.#items.findIndex((x) => Bun.deepEquals(x, value));
    if (j < 0) throw new ValueError("list.remove(x): x not in list");
    this.#items.splice(j, 1);
  }
  index(value: unknown, start = 0, stop?: number): number {
    const n = this.#items.length;
    const from = start < 0 ? Math.max(0, start + n) : start;
    const to = stop === undefined ? n : stop < 0 ? stop + n : Math.min(stop, n);
    for (let j = from; j < to; j++) if (Bun.deepEquals(this.#items[j], value)) return j;
    throw new ValueError(`${pyRepr(value)} is not in list`);
  }
  count(value: unknown): number {
    return this.#items.filter((x) => Bun.deepEquals(x, value)).length;
  }
  reverse(): void {
    this.#items.reverse();
  }
  /** Sorts in place in Python's order (`<` between numbers, strings...); `reverse` sorts descending. */
  sort(opts: { reverse?: boolean } = {}): void {
    const cmp = (a: unknown, b: unknown): number => {
      if (
        typeof a !== typeof b &&
        !(typeof a === "number" && typeof b === "bigint") &&
        !(typeof a === "bigint" && typeof b === "number")
      ) {
        throw new TypeError(`'<' not supported between instances of '${typeof a}' and '${typeof b}'`);
      }
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    };
    this.#items.sort(opts.reverse === true ? (a, b) => cmp(b, a) : cmp);
  }
  slice(start?: number, end?: number): unknown[] {
    return this.#items.slice(start, end);
  }
  copy(): unknown[] {
    return [...this.#items];
  }
  iterChunk(_version: number | null, index: number): [number, unknown[]] {
    return [0, this.#items.slice(index, index + ITER_CHUNK)];
  }
}

/** Attributes by name (Python: `managers.Namespace`). */
export class ServerNamespace {
  readonly #attrs = new Map<string, unknown>();

  constructor(init?: Record<string, unknown> | null) {
    if (init !== undefined && init !== null) for (const [k, v] of Object.entries(init)) this.#attrs.set(k, v);
  }
  getattr(name: string): unknown {
    if (!this.#attrs.has(name)) throw new AttributeError(`'Namespace' object has no attribute '${name}'`);
    return this.#attrs.get(name);
  }
  hasattr(name: string): boolean {
    return this.#attrs.has(name);
  }
  setattr(name: string, value: unknown): void {
    this.#attrs.set(name, value);
  }
  delattr(name: string): void {
    if (!this.#attrs.delete(name)) throw new AttributeError(`'Namespace' object has no attribute '${name}'`);
  }
  attrs(): string[] {
    return [...this.#attrs.keys()];
  }
  repr(): string {
    const parts = [...this.#attrs]
      .filter(([k]) => !k.startsWith("_"))
      .map(([k, v]) => `${k}=${pyRepr(v)}`)
      .sort();
    return `Namespace(${parts.join(", ")})`;
  }
}

/** A value holder (Python: `managers.Value`; the typecode is kept, not enforced). */
export class ServerValue {
  readonly typecode: string;
  #value: unknown;
  constructor(typecode: string, value: unknown) {
    this.typecode = typecode;
    this.#value = value;
  }
  get(): unknown {
    return this.#value;
  }
  set(value: unknown): void {
    this.#value = value;
  }
  repr(): string {
    return `Value(${pyRepr(this.typecode)}, ${pyRepr(this.#value)})`;
  }
}

/** A fixed-length array (Python: `SyncManager.Array`, an `array.array` in the server). */
export class ServerArray {
  readonly typecode: string;
  readonly #items: unknown[];
  constructor(typecode: string, init: Iterable<unknown> | number) {
    this.typecode = typecode;
    this.#items = typeof init === "number" ? new Array(init).fill(0) : [...init];
  }
  #index(i: number): number {
    const j = Number.isInteger(i) && i < 0 ? i + this.#items.length : i;
    if (!Number.isInteger(j) || j < 0 || j >= this.#items.length) throw new IndexError("array index out of range");
    return j;
  }
  get(i: number): unknown {
    return this.#items[this.#index(i)];
  }
  set(i: number, value: unknown): void {
    this.#items[this.#index(i)] = value;
  }
  length(): number {
    return this.#items.length;
  }
  toArray(): unknown[] {
    return [...this.#items];
  }
}

/** A Barrier whose state is read by methods (a proxy calls methods only). */
export class ServerBarrier {
  readonly #b: Barrier;
  constructor(parties: number, action?: () => unknown, timeout?: number) {
    this.#b = new Barrier(parties, action as never, timeout);
  }
  wait(timeout?: number): Promise<number> {
    return this.#b.wait(timeout);
  }
  reset(): void {
    this.#b.reset();
  }
  abort(): void {
    this.#b.abort();
  }
  parties(): number {
    return this.#b.parties;
  }
  nWaiting(): number {
    return this.#b.nWaiting;
  }
  broken(): boolean {
    return this.#b.broken;
  }
}

/** Factories of the library objects the server holds. */
export const makeLock = (): Lock => new Lock();
export const makeSemaphore = (value?: number): Semaphore => new Semaphore(value);
export const makeBoundedSemaphore = (value?: number): BoundedSemaphore => new BoundedSemaphore(value);
export const makeEvent = (): Event => new Event();
export const makeQueue = (maxsize?: number): Queue => new Queue(maxsize);
export const makeJoinableQueue = (maxsize?: number): JoinableQueue => new JoinableQueue(maxsize);
