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
import { ConfigError, resolveConfig } from "./config.js";
import { buildEngine, type Engine, type EngineOptions } from "./engine.js";
import type { Config } from "./types.js";
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

/** Reads and validates a JSON config file; errors name the file and the field. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `${path}: cannot read config: ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    // Editors on some systems start UTF-8 files with an invisible BOM.
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new ConfigError(
      `${path}: config is not valid JSON: ${(e as Error).message}`,
    );
  }
  try {
    return resolveConfig(json);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}

export { ingest, record, IngestError } from "./ingest.js";
export type { IngestOptions, IngestStats } from "./ingest.js";
export { MemoryStore };
export type { MemoryStoreOptions };
export { RedisStore, StoreUnavailableError } from "./store/redis.js";
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
