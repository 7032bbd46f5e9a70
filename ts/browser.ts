/**
 * The browser entry: fetches and compiles the wasm module once, then
 * builds engines synchronously from it.
 *
 * @example
 * import { createEngine } from "traqq";
 * const engine = await createEngine({ config: { mapping: { top: ["page"] } } });
 */
import init, * as glue from "../pkg/web/traqq.js";
import { buildEngine, type Engine, type EngineOptions } from "./engine.js";
import { WasmCore } from "./wasm.js";

export * from "./index.js";

let loading: Promise<unknown> | undefined;

/** Options of the browser's {@link createEngine}. */
export interface BrowserEngineOptions extends EngineOptions {
  /** Where the `.wasm` file is served; default: next to the glue module. */
  wasmUrl?: string | URL;
}

/** Builds an engine, loading the wasm module on first use. */
export async function createEngine(
  options: BrowserEngineOptions,
): Promise<Engine> {
  if ((options.engine ?? "wasm") === "wasm") {
    loading ??= init(
      options.wasmUrl ? { module_or_path: options.wasmUrl } : undefined,
    );
    await loading;
  }
  return buildEngine(options, (config) => new WasmCore(glue, config));
}
