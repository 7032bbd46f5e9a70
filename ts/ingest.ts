/**
 * Ingest: events through an engine into a store, batch by batch, with
 * one batch in memory at a time. Rejected events and refused writes are
 * reported with their input lines; when the store stays unreachable the
 * run stops with an {@link IngestError} that says where to resume.
 */
import { createHash, randomBytes } from "node:crypto";

import { decodeBatch } from "./batch.js";
import { serialize, type Engine } from "./engine.js";
import { EngineError } from "./wasm.js";
import { lineBatches } from "./lines.js";
import { checkTaggable, layoutKey } from "./store/keys.js";
import { resolveLayout } from "./store/layout.js";
import { BatchPlanner, type Retention } from "./store/plan.js";
import {
  StoreSetupError,
  type Applied,
  type Layout,
  type OpFailure,
  type Store,
} from "./store/types.js";
import type { Config } from "./types.js";

/** Options of {@link ingest} and {@link record}. */
export interface IngestOptions {
  engine: Engine;
  store: Store;
  /**
   * Key layout for a store that holds none yet; default `flat`. A store
   * that does keeps its own, and a different one here is an error.
   */
  layout?: Layout;
  /** Expiry per bucket kind, in seconds from the bucket's start. */
  retention?: Retention;
  /** Lines per batch; default 4096. */
  batchLines?: number;
  /**
   * Names this run's batches. Resuming with the same id and `skipLines`
   * makes batches that already landed recognisable, so none counts twice.
   */
  runId?: string;
  /** Input lines to pass over before the first batch (to resume). */
  skipLines?: number;
  /** Called for each rejected event. */
  onRejected?: (line: number, reason: string) => void;
  /** Called for each write the store refused. */
  onFailure?: (failure: OpFailure) => void;
  /** Called after each batch lands. */
  onProgress?: (stats: IngestStats) => void;
}

/** Totals of an ingest so far. */
export interface IngestStats {
  /** Input lines read, skipped ones included. */
  lines: number;
  accepted: number;
  rejected: number;
  /** Commands the engine produced. */
  commands: number;
  /** Writes sent to the store after merging (batch markers aside). */
  ops: number;
  /** Writes the store refused. */
  failedOps: number;
  /**
   * Lines of batches the store found applied already, every write of
   * them: a run repeated under its run id. Counted in `accepted` and
   * `rejected` as read, but nothing of them was written again.
   */
  replayedLines: number;
  seconds: number;
  runId: string;
  /** The layout written: the store's recorded one, or the one asked for. */
  layout: Layout;
}

/** The store stayed unreachable; nothing after `appliedLines` landed. */
export class IngestError extends Error {
  override name = "IngestError";

  constructor(
    message: string,
    readonly stats: IngestStats,
    /** Every line up to this one (1-based) was applied. */
    readonly appliedLines: number,
  ) {
    super(message);
  }
}

/**
 * Ingests NDJSON from a byte stream (a file, stdin, a request body).
 *
 * @example
 * await ingest(createReadStream("events.ndjson"), { engine, store });
 */
export async function ingest(
  source: AsyncIterable<Uint8Array>,
  options: IngestOptions,
): Promise<IngestStats> {
  const skip = options.skipLines ?? 0;
  const run = new Run(options, skip);
  const decoder = new TextDecoder();
  for await (const batch of lineBatches(
    skipLines(source, skip),
    options.batchLines ?? 4096,
  )) {
    await run.batch(decoder.decode(batch.bytes), batch.lines);
  }
  return run.done();
}

/**
 * Records events given as objects or NDJSON text, in one batch.
 *
 * @example
 * await record([{ event: "signup", ip: "10.0.0.1" }], { engine, store });
 */
export async function record(
  events: string | object | readonly (string | object)[],
  options: IngestOptions,
): Promise<IngestStats> {
  const { text, unwritable } = serialize(events);
  const run = new Run(
    {
      ...options,
      onRejected: (line, reason) =>
        options.onRejected?.(line, unwritable.get(line - 1) ?? reason),
    },
    0,
  );
  const lines =
    text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  await run.batch(text, lines);
  return run.done();
}

/**
 * What a run id may be: it is echoed back in a resume command line, so
 * it stays shell-safe.
 */
export const RUN_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The most lines one batch may hold (the CLI's `--batch` too). */
export const MAX_BATCH_LINES = 1_000_000;
/** The longest retention: a hundred years of days, in seconds. */
export const MAX_RETENTION_SECONDS = 36_500 * 86_400;

/**
 * Throws a RangeError naming the option when {@link IngestOptions} hold
 * a value no run could use, before anything is read or written.
 */
export function checkIngestOptions(options: IngestOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "ingest options: expected an object with engine and store",
    );
  }
  const whole = (name: string, v: unknown, min: number, max: number) => {
    if (v === undefined) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(
        `${name}: expected a whole number from ${min} to ${max}, got ${describe(v)}`,
      );
    }
  };
  whole("batchLines", options.batchLines, 1, MAX_BATCH_LINES);
  whole("skipLines", options.skipLines, 0, Number.MAX_SAFE_INTEGER);
  const r = options.retention;
  if (r !== undefined) {
    if (typeof r !== "object" || r === null) {
      throw new TypeError(
        `retention: expected { d?, h? } in seconds, got ${describe(r)}`,
      );
    }
    whole("retention.d", r.d, 1, MAX_RETENTION_SECONDS);
    whole("retention.h", r.h, 1, MAX_RETENTION_SECONDS);
  }
  if (options.runId !== undefined) {
    if (typeof options.runId !== "string" || !RUN_ID.test(options.runId)) {
      throw new RangeError(
        `runId: expected 1 to 64 letters, digits, '.', '_' or '-', got ${describe(options.runId)}`,
      );
    }
  }
  if (
    options.layout !== undefined &&
    options.layout !== "flat" &&
    options.layout !== "hash"
  ) {
    throw new RangeError(
      `layout: expected "flat" or "hash", got ${describe(options.layout)}`,
    );
  }
}

/**
 * An {@link EngineError} naming the lines of a batch the engine could not
 * process. Past a string's length the engines fail in their own words
 * (a RangeError, or Node's "Cannot create a string longer than ..."):
 * both get one message that says what to change.
 */
export function engineFailure(
  e: unknown,
  first: number,
  last: number,
): EngineError {
  const message = e instanceof Error ? e.message : String(e);
  const where = `lines ${first}-${last}`;
  return /string length|string longer than/i.test(message)
    ? new EngineError(
        `${where}: their commands are more than one string can hold; ` +
          `process fewer lines at once (--batch)`,
        { cause: e },
      )
    : new EngineError(`${where}: ${message}`, { cause: e });
}

/** Which lines landed before a run stopped, and how to go on from there. */
export function landed(applied: number, runId: string): string {
  return applied === 0
    ? "no lines were applied; run the same command again"
    : `lines 1-${applied} were applied; resume with --run-id ${runId} --skip-lines ${applied}`;
}

/** A value for an error message: strings quoted, other types named. */
function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return String(v);
  if (typeof v === "bigint") return `${v}n (a BigInt)`;
  return v === null ? "null" : typeof v;
}

class Run {
  /** Made with the first batch, once the store said its layout. */
  private planner: BatchPlanner | undefined;
  private readonly started = Date.now();
  readonly stats: IngestStats;

  constructor(
    private readonly options: IngestOptions,
    skipped: number,
  ) {
    checkIngestOptions(options);
    this.stats = {
      lines: skipped,
      accepted: 0,
      rejected: 0,
      commands: 0,
      ops: 0,
      failedOps: 0,
      replayedLines: 0,
      seconds: 0,
      runId: options.runId ?? randomBytes(6).toString("hex"),
      layout: options.layout ?? "flat",
    };
  }

  /** A planner in the layout the store already holds, or the one asked for. */
  private async plannerFor(): Promise<BatchPlanner> {
    if (this.planner) return this.planner;
    const { engine, store } = this.options;
    const prefix = engine.config.prefix;
    if (store.tagged) checkTaggable(prefix, configPatterns(engine.config));
    const { layout, recorded } = await resolveLayout(
      store,
      prefix,
      this.options.layout,
    );
    this.stats.layout = layout;
    const planner = new BatchPlanner(
      { prefix, layout, tagged: store.tagged },
      this.options.retention,
    );
    if (!recorded) {
      planner.note(
        layoutKey({ prefix, tagged: store.tagged }),
        layout,
        store.tagged ? "traqq" : "",
      );
    }
    return (this.planner = planner);
  }

  async batch(text: string, lines: number): Promise<void> {
    const { engine, store } = this.options;
    const planner = await this.plannerFor();
    const first = this.stats.lines + 1;
    let raw: string;
    try {
      raw = engine.processLines(text);
    } catch (e) {
      throw engineFailure(e, first, first + lines - 1);
    }
    let accepted = 0;
    let rejected = 0;
    for (const r of decodeBatch(raw)) {
      if (r.kind === "accepted") {
        accepted++;
        planner.addEvent(r.commands, first + r.index);
      } else if (r.kind === "rejected") {
        rejected++;
        this.options.onRejected?.(first + r.index, r.error);
      }
    }
    const commands = planner.commandCount;
    const ops = planner.opCount;
    // The id names the batch's text too: a run id reused on other input
    // must not match the markers of batches that landed before.
    const digest = createHash("sha1").update(text).digest("hex").slice(0, 12);
    const planned = planner.finish(`${this.stats.runId}:${first}:${digest}`);
    let applied: Applied = { failures: [], replayed: 0 };
    try {
      if (planned.groups.length > 0) applied = await store.apply(planned);
    } catch (e) {
      if (e instanceof StoreSetupError) throw e;
      this.stats.seconds = (Date.now() - this.started) / 1000;
      const before = first - 1;
      throw new IngestError(
        `${(e as Error).message}; ${landed(before, this.stats.runId)}`,
        { ...this.stats },
        before,
      );
    }
    const { failures, replayed } = applied;
    const s = this.stats;
    s.accepted += accepted;
    s.rejected += rejected;
    s.commands += commands;
    s.failedOps += failures.length;
    if (replayed > 0 && replayed === planned.groups.length) {
      s.replayedLines += lines;
    } else {
      s.ops += ops;
    }
    for (const f of failures) this.options.onFailure?.(f);
    s.lines += lines;
    s.seconds = (Date.now() - this.started) / 1000;
    this.options.onProgress?.(s);
  }

  done(): IngestStats {
    this.stats.seconds = (Date.now() - this.started) / 1000;
    return { ...this.stats };
  }
}

/** Every pattern of a config with the field that names it. */
export function* configPatterns(config: Config): Generator<[string, string]> {
  const m = config.mapping;
  for (const kind of ["bitmap", "add", "top"] as const) {
    for (const [i, p] of m[kind].entries()) yield [`mapping.${kind}[${i}]`, p];
  }
  for (const [i, av] of m.addValue.entries())
    yield [`mapping.addValue[${i}].key`, av.key];
}

/** Passes over the first `n` lines of a byte stream. */
async function* skipLines(
  source: AsyncIterable<Uint8Array>,
  n: number,
): AsyncGenerator<Uint8Array> {
  let left = n;
  for await (const chunk of source) {
    let from = 0;
    while (left > 0) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      from = nl + 1;
      left--;
    }
    if (left > 0) continue;
    if (from < chunk.length) yield from === 0 ? chunk : chunk.subarray(from);
  }
}
