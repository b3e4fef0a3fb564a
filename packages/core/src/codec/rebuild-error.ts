/**
 * Errors across processes: the state an Error travels as, and how it is made
 * again as the same class when the receiver knows it (Python pickles exceptions
 * by class and `args`; CPython's pool adds the remote traceback).
 */

import { errorClasses } from "../errors.ts";
import { setOwn } from "./_props.ts";

/** The serialised form of an Error, with its remote stack. */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
}

/** What the codec sends for an Error: its data plus what structured clone would drop. */
export interface ErrorState extends ErrorData {
  /** Own enumerable fields (`code`, `errno`, `path`...). */
  fields: Record<string, unknown>;
  /** Present only when the error has an own `cause`. */
  cause?: unknown;
  /** Present only for an AggregateError. */
  errors?: unknown;
}

type ErrorClass = new (message?: string) => Error;

const builtinErrors: Record<string, ErrorClass> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

function errorClassNamed(name: string): ErrorClass | undefined {
  if (Object.hasOwn(builtinErrors, name)) return builtinErrors[name];
  // multiproc's own classes take (message, ...) first, like Error.
  if (Object.hasOwn(errorClasses, name)) {
    return errorClasses[name as keyof typeof errorClasses] as unknown as ErrorClass;
  }
  return undefined;
}

/**
 * Makes an Error from data received from another process: an instance of the
 * built-in or multiproc class of that name when there is one, else an `Error`
 * whose `name` is set; its `stack` is the remote stack.
 *
 * @param data The name, message and stack of the original error.
 * @returns A new error.
 * @example
 * ```ts
 * const err = rebuildError({ name: "TypeError", message: "x is not a function", stack });
 * err instanceof TypeError; // true
 * ```
 */
export function rebuildError(data: ErrorData): Error {
  const { name, message } = data;
  let err: Error;
  if (name === "AggregateError") err = new AggregateError([], message);
  else {
    const cls = errorClassNamed(name);
    err = new (cls ?? Error)(message);
    if (cls === undefined) err.name = name;
  }
  // The local stack would point here; the remote one says where it happened.
  Object.defineProperty(err, "stack", {
    value: data.stack ?? `${name}: ${message}`,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return err;
}

/** Reads an error's state, fields and cause not yet encoded (the caller walks them). */
export function errorState(err: Error): ErrorState {
  const state: ErrorState = {
    name: String(err.name),
    message: String(err.message),
    stack: typeof err.stack === "string" ? err.stack : undefined,
    fields: {},
  };
  for (const key of Object.keys(err)) {
    if (key === "cause" || key === "errors") continue;
    setOwn(state.fields, key, (err as unknown as Record<string, unknown>)[key]);
  }
  if (Object.hasOwn(err, "cause")) state.cause = err.cause;
  if (err instanceof AggregateError) state.errors = err.errors;
  return state;
}
