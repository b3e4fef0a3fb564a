/**
 * The codec: values to bytes and back for other processes and threads, the role
 * pickle plays in Python's `multiprocessing` (`reduction.py`).
 */

export { type LoadsOptions, loads, withImports } from "./decode.ts";
export { type DumpsOptions, dumps } from "./encode.ts";
export {
  type ExportRef,
  type Exportable,
  allowImports,
  describeFunction,
  findExport,
  importExport,
  mayImport,
  resolveExport,
} from "./exports.ts";
export { type ErrorData, rebuildError } from "./rebuild-error.ts";
export { type Reducer, registerReducer } from "./reducers.ts";
