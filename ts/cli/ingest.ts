/**
 * `traqq ingest`: NDJSON events through an engine into a store (the
 * memory store kept in a file, one Redis server or a Cluster), with
 * progress and a summary on stderr.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { MultiBar, type SingleBar } from "cli-progress";

import { decodeBatch } from "../batch.js";
import type { Engine } from "../engine.js";
import { lineBatches, tooLongError } from "../lines.js";
import { createEngine, ingest, IngestError } from "../node.js";
import { parseEngineKey } from "../store/keys.js";
import { ConfigError } from "../config.js";
import { LayoutMismatchError } from "../store/layout.js";
import { landed, RUN_ID, type IngestStats } from "../ingest.js";
import type { Retention } from "../store/plan.js";
import {
  StoreSetupError,
  type Layout,
  type OpFailure,
} from "../store/types.js";
import type { EngineName } from "../types.js";
import { openInput, plural, readConfig, UsageError } from "./common.js";
import {
  chooseStore,
  describeStore,
  openForWriting,
  type StoreChoice,
} from "./stores.js";

/** Options of `traqq ingest`, as commander hands them over. */
export interface IngestCommandOptions {
  config: string;
  store?: string;
  redis?: string;
  cluster?: string;
  layout?: Layout;
  batch: number;
  engine: EngineName;
  retentionDays?: number;
  retentionHours?: number;
  runId?: string;
  skipLines?: number;
  retryFor?: number;
}

/** How often the plain progress line is printed when stderr is no TTY. */
const PLAIN_EVERY_MS = 5000;

/** Runs `traqq ingest` and resolves to the exit code. */
export async function runIngest(
  file: string,
  opts: IngestCommandOptions,
): Promise<number> {
  // The store's path first: a bad one must fail before anything is read.
  const choice = chooseStore(opts);
  const config = readConfig(opts.config);
  if (choice.kind === "memory" && opts.runId !== undefined) {
    // Without batch markers a repeated run id would count all again.
    throw new UsageError(
      "--run-id: only with --redis or --cluster; the memory store's file " +
        "is written whole when a run completes, so a run into it is never resumed",
    );
  }
  const runId = opts.runId ?? randomBytes(6).toString("hex");
  if (!RUN_ID.test(runId)) {
    throw new UsageError(
      "--run-id: use 1 to 64 letters, digits, '.', '_' or '-'",
    );
  }
  const retention: Retention = {};
  if (opts.retentionDays !== undefined) {
    retention.d = opts.retentionDays * 86400;
  }
  if (opts.retentionHours !== undefined) {
    retention.h = opts.retentionHours * 3600;
  }
  const input = await openInput(file);
  const engine = await createEngine({ config, engine: opts.engine });
  const opened = await openForWriting(choice, {
    prefix: config.prefix,
    layout: opts.layout ?? "flat",
    retryForMs:
      opts.retryFor !== undefined
        ? Math.round(opts.retryFor * 1000)
        : undefined,
  });

  let bytesRead = 0;
  let linesRead = 0;
  // 1-based numbers of the lines cut out for their length. ingest() only
  // sees their placeholders, so its rejection reason is replaced here.
  const tooLong = new Set<number>();
  async function* read(): AsyncGenerator<Uint8Array> {
    for await (const chunk of input.stream as AsyncIterable<Uint8Array>) {
      bytesRead += chunk.length;
      yield chunk;
    }
  }
  async function* counted(): AsyncGenerator<Uint8Array> {
    // Cut here, before ingest() decodes a batch, so that no line it sees
    // can be too long; it cuts its own batches again, so only bytes matter.
    for await (const batch of lineBatches(read(), Infinity)) {
      for (const i of batch.tooLong) tooLong.add(linesRead + i + 1);
      linesRead += batch.lines;
      yield batch.bytes;
    }
  }
  const expired = { events: 0 };
  const watched =
    Object.keys(retention).length > 0
      ? watchExpiry(engine, retention, expired)
      : engine;
  const progress = new Progress(input.size);
  const skip = opts.skipLines ?? 0;
  let landed = skip;
  const interrupted = () => {
    progress.stop();
    process.stderr.write(
      `traqq: interrupted; ${whatLanded(choice, landed, runId)}\n`,
    );
    // The memory store was never saved: its file is as it was before.
    opened.release(false).finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);

  let stats: IngestStats;
  try {
    stats = await ingest(counted(), {
      engine: watched,
      store: opened.store,
      layout: opts.layout,
      retention,
      batchLines: opts.batch,
      runId,
      skipLines: skip,
      onRejected: (line, error) =>
        progress.log(
          JSON.stringify({
            line,
            error: tooLong.has(line) ? tooLongError() : error,
          }),
        ),
      onFailure: (f) => progress.log(failureLine(f)),
      onProgress: (s) => {
        landed = s.lines;
        progress.update(s, bytesRead);
      },
    });
  } catch (e) {
    progress.stop();
    process.off("SIGINT", interrupted);
    if (e instanceof StoreSetupError) {
      await opened.release(false);
      throw new UsageError(`${describeStore(choice)}: ${e.message}`);
    }
    if (e instanceof LayoutMismatchError || e instanceof ConfigError) {
      await opened.release(false);
      throw new UsageError(e.message);
    }
    if (e instanceof IngestError) {
      // Batches up to appliedLines landed whole; the file must keep them
      // for the resume command in the message to be right.
      await opened.release(true);
      process.stderr.write(`traqq: ${e.message}\n`);
      return 1;
    }
    await opened.release(false);
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`${message}; ${whatLanded(choice, landed, runId)}`);
  } finally {
    engine.free();
  }
  progress.stop();

  const savingFrom = performance.now();
  // A large memory store takes a while to write: say so on a terminal,
  // then clear the note so the summary stands alone.
  const note = choice.kind === "memory" && process.stderr.isTTY === true;
  if (note) process.stderr.write(`traqq: saving ${choice.file} ...`);
  let saveError: unknown;
  try {
    await opened.release(true);
  } catch (e) {
    saveError = e;
  } finally {
    process.off("SIGINT", interrupted);
    if (note) process.stderr.write("\r\x1b[2K");
  }
  const saveSeconds = (performance.now() - savingFrom) / 1000;

  // Skipping more lines than the input holds is most likely a resume
  // against the wrong file: the summary counts what was really there.
  const skipped = Math.min(skip, linesRead);
  if (skipped < skip) {
    process.stderr.write(
      `traqq: warning: --skip-lines ${skip}, but the input has only ` +
        `${plural(linesRead, "line")}; nothing was ingested\n`,
    );
  }
  const where = `${describeStore(choice)} (${stats.layout} layout, ${opts.engine} engine)`;
  const saved =
    choice.kind === "memory" && saveError === undefined ? saveSeconds : null;
  process.stderr.write(
    summary(
      { ...stats, lines: stats.lines - skip + skipped },
      skipped,
      where,
      saved,
      Object.keys(retention).length > 0 ? expired.events : null,
    ),
  );
  if (saveError !== undefined) {
    const file = choice.kind === "memory" ? choice.file : "";
    process.stderr.write(`traqq: ${saveFailure(file, saveError)}\n`);
    return 1;
  }
  return 0;
}

/**
 * What went wrong saving the memory store, and where this run's data is:
 * a failed rename leaves the complete store in the temporary file.
 */
function saveFailure(file: string, e: unknown): string {
  const error = e as NodeJS.ErrnoException;
  // The store's own errors name the file already.
  const why = (error.message ?? String(e)).replace(
    `memory store ${file}: `,
    "",
  );
  const head = `cannot save memory store ${file}: ${why}`;
  if (
    error.syscall === "rename" &&
    typeof error.path === "string" &&
    existsSync(error.path)
  ) {
    return (
      `${head}; the whole store, this run's events included, is in ` +
      `${error.path}: move it to ${file} to keep it`
    );
  }
  return `${head}; ${file} was left as it was, without this run's events`;
}

/**
 * `engine`, counting in `into` the accepted events that write into a
 * bucket whose retention has already run out: their counters expire as
 * soon as they are written, though the summary counts them accepted.
 */
function watchExpiry(
  engine: Engine,
  retention: Retention,
  into: { events: number },
): Engine {
  const prefix = engine.config.prefix;
  // Everything else (config, free) is the engine's own.
  return Object.create(engine, {
    processLines: {
      value: (text: string, nowMs?: number): string => {
        const raw = engine.processLines(text, nowMs);
        // As the memory store and Redis see it: whole seconds.
        const now = Math.floor(Date.now() / 1000);
        for (const r of decodeBatch(raw)) {
          if (r.kind !== "accepted") continue;
          const gone = r.commands.some((c) => {
            const { place } = parseEngineKey(prefix, c[1]!);
            const keep = retention[place.bucket];
            return keep !== undefined && place.ts + keep <= now;
          });
          if (gone) into.events++;
        }
        return raw;
      },
    },
  }) as Engine;
}

/** What a refused write looks like on stderr: one JSON line. */
function failureLine(f: OpFailure): string {
  return JSON.stringify({ lines: f.lines, error: f.error, key: f.op.key });
}

/** Which lines are in the store after a run stopped early, and what next. */
function whatLanded(choice: StoreChoice, lines: number, runId: string): string {
  if (choice.kind === "memory") {
    return `${choice.file} was left as it was before this run`;
  }
  return landed(lines, runId);
}

/**
 * The final report: totals, merging, speed and where the data went;
 * with a retention, `expired` counts events whose buckets were already
 * past it.
 */
export function summary(
  s: IngestStats,
  skipped: number,
  where: string,
  saveSeconds: number | null,
  expired: number | null = null,
): string {
  const events = s.accepted + s.rejected;
  const perEvent = (n: number) =>
    s.accepted > 0 ? (n / s.accepted).toFixed(2) : "0";
  const rate = s.seconds > 0 ? Math.round(events / s.seconds) : 0;
  const skippedNote = skipped > 0 ? ` (${skipped} skipped)` : "";
  const saved =
    saveSeconds === null ? "" : `; store saved in ${saveSeconds.toFixed(2)} s`;
  return (
    `traqq: ingested into ${where}, run ${s.runId}\n` +
    `  lines     ${s.lines}${skippedNote}: ${s.accepted} accepted, ` +
    `${s.rejected} rejected\n` +
    `  commands  ${s.commands} from the engine, ${perEvent(s.commands)} ` +
    `per event\n` +
    `  writes    ${s.ops} after merging, ${perEvent(s.ops)} per event, ` +
    `${s.failedOps} refused\n` +
    `  speed     ${rate} events/s (${s.seconds.toFixed(2)} s${saved})\n` +
    (s.replayedLines > 0
      ? `  replayed  ${plural(s.replayedLines, "line")} in batches that run ` +
        `${s.runId} had applied already: not counted again\n`
      : "") +
    (expired !== null && expired > 0
      ? `  expired   ${plural(expired, "event")} fell in buckets already ` +
        `past the retention, so expired at once\n`
      : "")
  );
}

/**
 * Progress on stderr: a bar (percent by bytes read when the input size is
 * known) on a terminal, otherwise a plain line every few seconds, so logs
 * stay readable. Rejection lines go through it so they never cut the bar.
 */
class Progress {
  private readonly multi?: MultiBar;
  private readonly bar?: SingleBar;
  private lastPlain = Date.now();
  private readonly started = Date.now();
  private stopped = false;

  constructor(private readonly size?: number) {
    if (process.stderr.isTTY !== true) return;
    const known = size !== undefined && size > 0;
    this.multi = new MultiBar({
      stream: process.stderr,
      format:
        (known ? "{bar} {percentage}% | " : "") +
        "{lines} lines | {rate} events/s | {accepted} accepted | " +
        "{rejected} rejected | {duration_formatted}",
      barsize: 30,
      hideCursor: true,
      // Our own SIGINT handler says where to resume; the bar's would not.
      gracefulExit: false,
    });
    this.bar = this.multi.create(known ? size : 1, 0, payload());
  }

  update(s: IngestStats, bytes: number): void {
    const events = s.accepted + s.rejected;
    const rate = s.seconds > 0 ? Math.round(events / s.seconds) : 0;
    if (this.bar) {
      this.bar.update(Math.min(bytes, this.size ?? 0), payload(s, rate));
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain < PLAIN_EVERY_MS) return;
    this.lastPlain = now;
    const share =
      this.size !== undefined && this.size > 0
        ? `, ${((100 * Math.min(bytes, this.size)) / this.size).toFixed(1)}% of the input`
        : "";
    const secs = ((now - this.started) / 1000).toFixed(0);
    process.stderr.write(
      `traqq: ${s.lines} lines, ${s.accepted} accepted, ${s.rejected} ` +
        `rejected, ${rate} events/s${share} (${secs} s)\n`,
    );
  }

  log(line: string): void {
    if (this.multi) this.multi.log(line + "\n");
    else process.stderr.write(line + "\n");
  }

  stop(): void {
    if (!this.multi || this.stopped) return;
    this.stopped = true;
    // update() flushes the logged lines the next redraw would have shown.
    this.multi.update();
    this.multi.stop();
  }
}

function payload(s?: IngestStats, rate = 0): Record<string, string | number> {
  return {
    lines: s?.lines ?? 0,
    accepted: s?.accepted ?? 0,
    rejected: s?.rejected ?? 0,
    rate,
  };
}
