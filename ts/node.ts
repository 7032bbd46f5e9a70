/**
 * The Node entry: loads the wasm module from disk, synchronously, once.
 *
 * @example
 * import { createEngineSync } from "traqq";
 * const engine = createEngineSync({ config: { mapping: { bitmap: ["ip"] } } });
 * engine.process({ event: "signup", ip: "10.0.0.1" });
 */
import { readFileSync } from "node:fs";

import * as glue from "../pkg/web/traqq.js";
import { buildEngine, type Engine, type EngineOptions } from "./engine.js";
import { MemoryStore, type MemoryStoreOptions } from "./store/memory.js";
import { WasmCore } from "./wasm.js";

export * from "./index.js";

let loaded = false;

function loadWasm(): typeof glue {
  if (!loaded) {
    const url = new URL("../pkg/web/traqq_bg.wasm", import.meta.url);
    glue.initSync({ module: readFileSync(url) });
    loaded = true;
  }
  return glue;
}

/** Builds an engine; the config is validated first (throws {@link ConfigError}). */
export function createEngineSync(options: EngineOptions): Engine {
  return buildEngine(options, (config) => new WasmCore(loadWasm(), config));
}

/** Builds an engine; the same as {@link createEngineSync}, for code shared with browsers. */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  return createEngineSync(options);
}

export { loadConfigFile } from "./config-file.js";
export { ingest, record, IngestError } from "./ingest.js";
export type { IngestOptions, IngestStats } from "./ingest.js";
export { MemoryStore };
export type { MemoryStoreOptions };
export {
  RedisStore,
  StoreSetupError,
  StoreUnavailableError,
} from "./store/redis.js";
export type { RedisStoreOptions } from "./store/redis.js";

/**
 * Opens the embedded store, loading `file` when it exists; it is saved
 * there again on `close()`.
 */
export function openMemoryStore(
  options: MemoryStoreOptions = {},
): Promise<MemoryStore> {
  return MemoryStore.open(loadWasm(), options);
}
