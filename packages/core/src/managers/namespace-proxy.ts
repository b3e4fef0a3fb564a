/**
 * NamespaceProxy (Python: `managers.NamespaceProxy`): attribute access on
 * the server's Namespace, each get, set or delete one blocking call; names
 * starting with `_` are the proxy's own. `String(ns)` is Python's
 * `Namespace(name='Bob')`.
 */
import { BaseProxy } from "./proxy.ts";

/** Names read from the proxy itself, never from the server. */
const LOCAL = new Set(["then", "toString", "toJSON", "valueOf", "constructor", "getAsync", "setAsync", "deleteAsync"]);

/** Any attribute of a Namespace proxy, read and written through the server. */
export interface NamespaceProxy {
  [name: string]: unknown;
}

/** A Namespace proxy; its objects are wrapped in a JS Proxy. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: attributes are read through the JS Proxy
export class NamespaceProxy extends BaseProxy {
  static readonly proxyKind = "namespace";

  /** Wraps `p` so that attributes go to the server. @internal */
  static wrap(p: BaseProxy): BaseProxy {
    return new Proxy(p, {
      get(target, key) {
        if (typeof key === "symbol" || key.startsWith("_") || LOCAL.has(key)) {
          const v = Reflect.get(target, key, target);
          return typeof v === "function" ? v.bind(target) : v;
        }
        return target._callMethodSync("getattr", [key]);
      },
      set(target, key, value) {
        if (typeof key === "symbol" || key.startsWith("_")) return Reflect.set(target, key, value, target);
        target._callMethodSync("setattr", [key, value]);
        return true;
      },
      deleteProperty(target, key) {
        if (typeof key === "symbol" || key.startsWith("_")) return Reflect.deleteProperty(target, key);
        target._callMethodSync("delattr", [key]);
        return true;
      },
      has(target, key) {
        if (typeof key === "symbol" || key.startsWith("_")) return Reflect.has(target, key);
        return target._callMethodSync("hasattr", [key]) as boolean;
      },
    });
  }

  /** Async read of attribute `name`. @throws AttributeError when it is not set */
  getAsync(name: string): Promise<unknown> {
    return this._callMethod("getattr", [name]);
  }
  /** Async write of attribute `name`. */
  async setAsync(name: string, value: unknown): Promise<void> {
    await this._callMethod("setattr", [name, value]);
  }
  /** Async delete of attribute `name`. */
  async deleteAsync(name: string): Promise<void> {
    await this._callMethod("delattr", [name]);
  }
  /** Python's `repr`: `Namespace(a=1, name='Bob')`. */
  override toString(): string {
    return this._callMethodSync("repr") as string;
  }
}
