/**
 * A Rust panic aborts the wasm module, which JavaScript sees as a trap
 * (`RuntimeError: unreachable`). The wasm core must turn that into a
 * rejection of the one event that caused it, never a crash of the batch.
 * The real module has no known panic to trigger, so a glue object that
 * traps on a chosen line stands in for it here.
 */
import { describe, expect, it } from "vitest";

import { resolveConfig } from "../ts/config.js";
import { WasmCore, type WasmGlue } from "../ts/wasm.js";

function trappingGlue(
  poison: string,
  trap: () => Error = () => new WebAssembly.RuntimeError("unreachable"),
): WasmGlue & { opened: number } {
  let panic = "";
  const glue = {
    opened: 0,
    takePanicMessage: () => {
      const m = panic;
      panic = "";
      return m;
    },
    Engine: class {
      private trapped = false;
      constructor() {
        glue.opened++;
      }
      processLines(input: string): string {
        if (this.trapped)
          throw new Error("recursive use of an object detected");
        let out = "";
        for (const line of input.replace(/\n$/, "").split("\n")) {
          if (line === poison) {
            this.trapped = true;
            panic = "panicked at src/engine.rs:1:1: boom";
            throw trap();
          }
          out += `+1\nINCR\x1f${line}\n`;
        }
        return out;
      }
      free(): void {}
    },
  };
  return glue;
}

describe("a panic in the wasm core", () => {
  it("rejects only the event that caused it", () => {
    const glue = trappingGlue("bad");
    const core = new WasmCore(glue, resolveConfig({}));
    const out = core.processLines("a\nbad\nc\n", 0);
    expect(out).toBe(
      "+1\nINCR\x1fa\n-internal error: panicked at src/engine.rs:1:1: boom\n+1\nINCR\x1fc\n",
    );
    // The next batch runs on a fresh handle.
    expect(core.processLines("d\n", 0)).toBe("+1\nINCR\x1fd\n");
    expect(glue.opened).toBe(3);
  });

  it("recovers from a stack overflow inside wasm as from a trap", () => {
    // V8 reports wasm stack exhaustion as a RangeError, handle stuck.
    const glue = trappingGlue(
      "deep",
      () => new RangeError("Maximum call stack size exceeded"),
    );
    const core = new WasmCore(glue, resolveConfig({}));
    expect(core.processLines("a\ndeep\nc\n", 0)).toBe(
      "+1\nINCR\x1fa\n-internal error: panicked at src/engine.rs:1:1: boom\n+1\nINCR\x1fc\n",
    );
    expect(core.processLines("d\n", 0)).toBe("+1\nINCR\x1fd\n");
  });

  it("passes other errors through as errors", () => {
    const glue = trappingGlue("bad");
    glue.Engine = class {
      processLines(): string {
        throw new Error("processing time 1e99 ms is out of range");
      }
      free(): void {}
    };
    const core = new WasmCore(glue, resolveConfig({}));
    expect(() => core.processLines("a\n", 0)).toThrow(/out of range/);
  });
});
