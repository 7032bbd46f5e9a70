/**
 * The engine API shared by the Node and browser entries: one long-lived
 * handle per config, fed whole batches of events.
 */
import { toResults } from "./batch.js";
import { resolveConfig } from "./config.js";
import { TsCore } from "./core/engine.js";
import { EngineError } from "./wasm.js";
import type {
  Clock,
  Config,
  ConfigInput,
  EngineName,
  EventResult,
} from "./types.js";

/** The calls every engine answers; both give identical raw batches. */
export interface Core {
  /** Processes NDJSON text as one batch; see `batch.ts` for the format. */
  processLines(ndjson: string, nowMs: number): string;
  /** Releases what the engine holds (wasm memory); a no-op for `ts`. */
  free(): void;
}

/** Builds a wasm core for a validated config; supplied by each entry. */
export type WasmFactory = (config: Config) => Core;

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** The config, as a user writes it; defaults are filled in. */
  config: ConfigInput | Config;
  /** Which implementation runs the hot path. Default `wasm`. */
  engine?: EngineName;
  /** Processing time in milliseconds. Default `Date.now`. */
  clock?: Clock;
}

/** A traqq engine: events in, Redis commands or rejections out. */
export class Engine {
  /** The validated config, every default filled in. */
  readonly config: Config;
  private freed = false;

  constructor(
    readonly name: EngineName,
    config: Config,
    private readonly core: Core,
    private readonly clock: Clock,
  ) {
    this.config = config;
  }

  /**
   * Processes NDJSON text (one event per line) and returns the raw batch.
   * This is the fast path: one call, one string back.
   */
  processLines(ndjson: string, nowMs: number = this.clock()): string {
    if (this.freed) throw new EngineError("engine used after free()");
    if (typeof nowMs !== "number" || !Number.isFinite(nowMs)) {
      throw new EngineError(
        `processing time must be a finite number of milliseconds, got ${String(nowMs)}`,
      );
    }
    return this.core.processLines(ndjson, nowMs);
  }

  /**
   * Processes events given as objects, one NDJSON string, or an array of
   * either, and returns one result per event. An object counts as the
   * text `JSON.stringify` makes of it.
   *
   * @example
   * engine.process({ event: "signup", utm_source: "google" });
   */
  process(
    events: string | object | readonly (string | object)[],
    nowMs: number = this.clock(),
  ): EventResult[] {
    const { text, unwritable } = serialize(events);
    const results = toResults(this.processLines(text, nowMs));
    // An event JSON cannot write (a BigInt, a cycle) went in as `null`;
    // its result says why instead of "not an object".
    for (const [i, why] of unwritable) results[i] = { ok: false, error: why };
    return results;
  }

  /** Frees the engine's memory; the engine must not be used after. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.core.free();
  }
}

/** Turns what {@link Engine.process} accepts into NDJSON text. */
export function toNdjson(
  events: string | object | readonly (string | object)[],
): string {
  return serialize(events).text;
}

/**
 * NDJSON text of events, one line each. An object `JSON.stringify`
 * cannot write becomes the line `null` (which every engine rejects), and
 * `unwritable` says which, and why, so one such event stops no other.
 */
export function serialize(
  events: string | object | readonly (string | object)[],
): {
  text: string;
  unwritable: Map<number, string>;
} {
  const unwritable = new Map<number, string>();
  if (typeof events === "string") return { text: events, unwritable };
  const list = Array.isArray(events) ? events : [events];
  let text = "";
  list.forEach((e, i) => {
    let line: string | undefined;
    try {
      // A line break inside a string event would split it in two, and a
      // blank one would be skipped: each element must get its result.
      line =
        typeof e === "string" && !/^[ \t\r\n]*$/.test(e)
          ? e.replace(/\n/g, " ")
          : JSON.stringify(e);
    } catch (err) {
      unwritable.set(
        i,
        `event cannot be written as JSON: ${(err as Error).message}`,
      );
    }
    text += (line ?? "null") + "\n";
  });
  return { text, unwritable };
}

/** Validates the config and builds an engine around the chosen core. */
export function buildEngine(options: EngineOptions, wasm: WasmFactory): Engine {
  const config = resolveConfig(options.config);
  const name = options.engine ?? "wasm";
  const clock = options.clock ?? Date.now;
  const core = name === "ts" ? new TsCore(config) : wasm(config);
  return new Engine(name, config, core, clock);
}
