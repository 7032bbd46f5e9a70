/**
 * What both entries export: the engine, config handling, the raw batch
 * format and the types. `node.ts` and `browser.ts` add `createEngine`.
 */
export {
  decodeBatch,
  formatJson,
  formatText,
  quoteArg,
  toResults,
} from "./batch.js";
export type { BatchRecord } from "./batch.js";
export { ConfigError, canonicalPattern, resolveConfig } from "./config.js";
export { Engine, toNdjson } from "./engine.js";
export type { Core, EngineOptions } from "./engine.js";
export { EngineError } from "./wasm.js";
export type * from "./types.js";
export { query, QueryError, dayStarts, hourStarts } from "./query.js";
export type {
  BucketResult,
  Granularity,
  QueryContext,
  QueryOptions,
  QueryResult,
  RangeShortcut,
} from "./query.js";
export type {
  Layout,
  Op,
  OpFailure,
  Store,
  StoreReader,
} from "./store/types.js";
export type { Metric } from "./store/keys.js";
