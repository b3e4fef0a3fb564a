/** Property helpers shared by the codec's walks. */

/** Sets an own data property; plain assignment of `__proto__` would change the prototype instead. */
export function setOwn(obj: object, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else (obj as Record<string, unknown>)[key] = value;
}

/** Defines an own field without running a setter the class may have for it (as pickle's `__dict__` update). */
export function defineField(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

const INDEX = /^(?:0|[1-9]\d*)$/;

/** Own enumerable field names of a class instance; indices are skipped when the base is array-like. */
export function fieldNames(obj: object, arrayLike: boolean): string[] {
  const keys = Object.keys(obj);
  return arrayLike ? keys.filter((k) => !INDEX.test(k)) : keys;
}
