/**
 * The `traqq` command line: `traqq process` streams NDJSON events through
 * an engine and prints the Redis commands they make.
 */
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "commander";
import { decodeBatch, formatJson, formatText } from "./batch.js";
import { lineBatches } from "./lines.js";
import type { Engine } from "./engine.js";
import { createEngine, loadConfigFile } from "./node.js";
import type { Config, EngineName } from "./types.js";

/** Options of `traqq process`, as commander hands them over. */
export interface ProcessOptions {
  config: string;
  engine: EngineName;
  format: "text" | "json";
  now?: number;
  strict?: boolean;
  batch: number;
}

/** Reports a usage or config problem: the CLI exits with code 2. */
class UsageError extends Error {
  override name = "UsageError";
}

/** Totals of one run, as the summary line reports them. */
export interface RunStats {
  accepted: number;
  rejected: number;
  commands: number;
  seconds: number;
}

/**
 * Streams NDJSON from `input` through `engine`, commands to `out`, one
 * JSON line per rejection to `err`. Never holds more than one batch.
 */
export async function processStream(
  engine: Engine,
  input: AsyncIterable<Uint8Array>,
  out: Writable,
  err: Writable,
  options: { format: "text" | "json"; batch: number; nowMs: number },
): Promise<RunStats> {
  const format = options.format === "json" ? formatJson : formatText;
  const stats: RunStats = { accepted: 0, rejected: 0, commands: 0, seconds: 0 };
  const started = performance.now();
  // Only the first batch may drop a byte order mark: elsewhere U+FEFF
  // is a character of the line it starts, as in a whole-file decode.
  let decoder = new TextDecoder("utf-8");
  let base = 0;

  for await (const batch of lineBatches(input, options.batch)) {
    const raw = engine.processLines(decoder.decode(batch.bytes), options.nowMs);
    decoder = new TextDecoder("utf-8", { ignoreBOM: true });

    let text = "";
    let errors = "";
    for (const record of decodeBatch(raw)) {
      if (record.kind === "accepted") {
        stats.accepted++;
        stats.commands += record.commands.length;
        for (const command of record.commands) text += format(command) + "\n";
      } else if (record.kind === "rejected") {
        stats.rejected++;
        const line = base + record.index + 1;
        errors += JSON.stringify({ line, error: record.error }) + "\n";
      }
    }
    base += batch.lines;

    await write(out, text);
    await write(err, errors);
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** Writes `text` and waits for the stream to drain when its buffer is full. */
function write(stream: Writable, text: string): Promise<void> {
  if (text.length === 0 || stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      stream.off("drain", done);
      stream.off("error", done);
      if (e) reject(e);
      else resolve();
    };
    stream.on("drain", done);
    stream.on("error", done);
  });
}

/** The one-line summary printed on stderr after a run. */
export function summaryLine(stats: RunStats, engine: EngineName): string {
  const events = stats.accepted + stats.rejected;
  const rate = stats.seconds > 0 ? Math.round(events / stats.seconds) : 0;
  return (
    `traqq: ${events} events read, ${stats.accepted} accepted, ` +
    `${stats.rejected} rejected, ${stats.commands} commands, ` +
    `${rate} events/s (${stats.seconds.toFixed(2)} s, ${engine} engine)`
  );
}

function parseNow(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError("expected unix seconds, e.g. 1696118400");
  }
  return n;
}

function parseBatch(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError("expected a whole number of at least 1");
  }
  return n;
}

function readConfig(path: string): Config {
  try {
    return loadConfigFile(path);
  } catch (e) {
    const error = e as Error;
    // A ConfigError's message already names the offending field.
    if (error.name === "ConfigError") throw new UsageError(error.message);
    throw new UsageError(`cannot read config ${path}: ${error.message}`);
  }
}

async function openInput(file: string): Promise<Readable> {
  if (file === "-") return process.stdin;
  try {
    const handle = await open(file, "r");
    return handle.createReadStream({ highWaterMark: 1 << 20 });
  } catch (e) {
    throw new UsageError(`cannot open ${file}: ${(e as Error).message}`);
  }
}

async function runProcess(file: string, opts: ProcessOptions): Promise<number> {
  const config = readConfig(opts.config);
  const nowMs = opts.now !== undefined ? opts.now * 1000 : Date.now();
  const input = await openInput(file);
  const engine = await createEngine({ config, engine: opts.engine });

  try {
    const stats = await processStream(
      engine,
      input,
      process.stdout,
      process.stderr,
      { format: opts.format, batch: opts.batch, nowMs },
    );
    process.stderr.write(summaryLine(stats, opts.engine) + "\n");
    return opts.strict === true && stats.rejected > 0 ? 1 : 0;
  } finally {
    engine.free();
  }
}

function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  try {
    const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

const PROCESS_HELP = `
Input is NDJSON, one event per line. Commands go to stdout, one per line,
ready for redis-cli; each rejected event goes to stderr as one JSON line
{"line": N, "error": "..."} (N counts every input line from 1, blank ones
included); a summary line ends stderr.

Exit codes: 0 after a run, 1 with --strict when an event was rejected,
2 for bad usage or a bad config.

Examples:
  $ traqq process events.ndjson --config traqq.json
  $ traqq process events.ndjson -c traqq.json --now 1696118400 | redis-cli
  $ gunzip -c events.ndjson.gz | traqq process - -c traqq.json --format json
`;

/** Builds the commander program; `run` is what executes it. */
export function buildProgram(
  action: (file: string, opts: ProcessOptions) => Promise<void>,
): Command {
  const program = new Command("traqq")
    .description("Turn JSON analytics events into Redis commands.")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("process")
    .description("Turn NDJSON events into Redis commands.")
    .argument("[file]", "NDJSON file to read, or - for stdin", "-")
    .requiredOption("-c, --config <file>", "traqq config file (JSON)")
    .addOption(
      new Option("-e, --engine <name>", "which engine runs the hot path")
        .choices(["wasm", "ts"])
        .default("wasm"),
    )
    .addOption(
      new Option("-f, --format <format>", "text: redis-cli lines; json: arrays")
        .choices(["text", "json"])
        .default("text"),
    )
    .option(
      "--now <seconds>",
      "processing time as unix seconds (default: the time at start)",
      parseNow,
    )
    .option("--strict", "exit with code 1 when any event is rejected")
    .option(
      "--batch <lines>",
      "input lines handed to the engine per call",
      parseBatch,
      4096,
    )
    .addHelpText("after", PROCESS_HELP)
    .action(action);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves to the exit
 * code. Output goes to the process's stdout and stderr.
 */
export async function run(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram(async (file, opts) => {
    code = await runProcess(file, opts);
  });

  // A reader that stops early (`| head`) is not an error of ours.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(code);
    process.stderr.write(`traqq: cannot write output: ${e.message}\n`);
    process.exit(1);
  });
  process.stderr.on("error", () => {});

  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`traqq: ${message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
