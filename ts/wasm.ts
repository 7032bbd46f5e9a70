/**
 * The wasm engine behind the {@link Core} interface, shared by the Node
 * and browser entries (they differ only in how the module is loaded).
 */
import type { Core } from "./engine.js";
import type { Config } from "./types.js";

/** What the wasm-bindgen glue of `crate/` exports. */
export interface WasmGlue {
  Engine: new (configJson: string) => WasmHandle;
  takePanicMessage(): string;
}

interface WasmHandle {
  processLines(input: string, nowMs: number): string;
  free(): void;
}

/** A failure inside the engine itself, never caused by an event. */
export class EngineError extends Error {
  override name = "EngineError";
}

/**
 * The wasm core. Rust panics abort, which surfaces here as a wasm trap
 * (`RuntimeError: unreachable`) with the handle left unusable. So a
 * trapped batch is run again line by line on fresh handles: the line that
 * traps is rejected with the panic's message and the others go through.
 */
export class WasmCore implements Core {
  private handle: WasmHandle;
  private readonly json: string;

  constructor(
    private readonly glue: WasmGlue,
    config: Config,
  ) {
    this.json = JSON.stringify(config);
    this.handle = this.open();
  }

  processLines(input: string, nowMs: number): string {
    try {
      return this.handle.processLines(input, nowMs);
    } catch (e) {
      if (!isTrap(e)) throw toError(e);
      this.reset();
      return this.isolate(input, nowMs);
    }
  }

  free(): void {
    this.handle.free();
  }

  private isolate(input: string, nowMs: number): string {
    const body = input.endsWith("\n") ? input.slice(0, -1) : input;
    let out = "";
    for (const line of body.split("\n")) {
      try {
        out += this.handle.processLines(line + "\n", nowMs);
      } catch (e) {
        if (!isTrap(e)) throw toError(e);
        const reason = this.glue.takePanicMessage() || String(e);
        out += `-internal error: ${reason.replace(/\n/g, " ")}\n`;
        this.reset();
      }
    }
    return out;
  }

  /** Leaves the trapped handle behind (its borrow flag is stuck) and opens another. */
  private reset(): void {
    this.handle = this.open();
  }

  private open(): WasmHandle {
    try {
      return new this.glue.Engine(this.json);
    } catch (e) {
      throw toError(e);
    }
  }
}

function isTrap(e: unknown): boolean {
  // A stack overflow inside wasm surfaces as a RangeError, and leaves the
  // handle as stuck as any other trap.
  return (
    (typeof WebAssembly !== "undefined" &&
      e instanceof WebAssembly.RuntimeError) ||
    (e instanceof RangeError && /call stack/i.test(e.message))
  );
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new EngineError(String(e));
}
