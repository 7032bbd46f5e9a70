/**
 * The `traqq` command line: `traqq process` streams NDJSON events through
 * an engine and prints the Redis commands they make; `traqq ingest`
 * stores what they count; `traqq query` reads it back; `traqq serve`
 * does both over HTTP.
 */
import { readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "commander";
import { ConfigError } from "./config.js";
import { decodeBatch, formatJson, formatText } from "./batch.js";
import { lineBatches, tooLongError } from "./lines.js";
import type { Engine } from "./engine.js";
import {
  engineFailure,
  MAX_BATCH_LINES,
  MAX_RETENTION_SECONDS,
} from "./ingest.js";
import { createEngine } from "./node.js";
import { MAX_TIME, MIN_TIME } from "./core/time.js";
import type { EngineName } from "./types.js";
import {
  openInput,
  plural,
  readConfig,
  seconds,
  UsageError,
  wholeNumber,
  write,
} from "./cli/common.js";
import { runIngest, type IngestCommandOptions } from "./cli/ingest.js";
import { runQuery, type QueryCommandOptions } from "./cli/query.js";
import { runServe, type ServeCommandOptions } from "./cli/serve.js";

/** Options of `traqq process`, as commander hands them over. */
export interface ProcessOptions {
  config: string;
  engine: EngineName;
  format: "text" | "json";
  now?: number;
  strict?: boolean;
  batch: number;
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
 * JSON line per rejection to `err`. Never holds more than one batch, nor
 * a line longer than `maxLineBytes` (default 64 MiB): such a line is
 * rejected as too long and the run goes on.
 */
export async function processStream(
  engine: Engine,
  input: AsyncIterable<Uint8Array>,
  out: Writable,
  err: Writable,
  options: {
    format: "text" | "json";
    batch: number;
    nowMs: number;
    maxLineBytes?: number;
  },
): Promise<RunStats> {
  const format = options.format === "json" ? formatJson : formatText;
  const stats: RunStats = { accepted: 0, rejected: 0, commands: 0, seconds: 0 };
  const started = performance.now();
  // Only the first batch may drop a byte order mark: elsewhere U+FEFF
  // is a character of the line it starts, as in a whole-file decode.
  let decoder = new TextDecoder("utf-8");
  let base = 0;
  const tooLong = tooLongError(options.maxLineBytes);

  for await (const batch of lineBatches(input, options.batch, {
    maxLineBytes: options.maxLineBytes,
  })) {
    let raw: string;
    try {
      raw = engine.processLines(decoder.decode(batch.bytes), options.nowMs);
    } catch (e) {
      throw engineFailure(e, base + 1, base + batch.lines);
    }
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
        // The engine saw only the placeholder: say what was wrong instead.
        const error = batch.tooLong.includes(record.index)
          ? tooLong
          : record.error;
        errors += JSON.stringify({ line, error }) + "\n";
      }
    }
    base += batch.lines;

    await write(out, text);
    await write(err, errors);
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** The one-line summary printed on stderr after a run. */
export function summaryLine(stats: RunStats, engine: EngineName): string {
  const events = stats.accepted + stats.rejected;
  const rate = stats.seconds > 0 ? Math.round(events / stats.seconds) : 0;
  return (
    `traqq: ${plural(events, "event")} read, ${stats.accepted} accepted, ` +
    `${stats.rejected} rejected, ${plural(stats.commands, "command")}, ` +
    `${rate} events/s (${stats.seconds.toFixed(2)} s, ${engine} engine)`
  );
}

/**
 * Parses `--now`: whole unix seconds written as a decimal integer, within
 * the times both engines accept. Hex, exponents, spaces and fractions are
 * refused rather than read as something the user may not have meant.
 */
export function parseNow(value: string): number {
  if (!/^-?[0-9]+$/.test(value)) {
    throw new InvalidArgumentError(
      "expected whole unix seconds as a decimal integer, e.g. 1696118400",
    );
  }
  const n = Number(value);
  if (n < MIN_TIME || n > MAX_TIME) {
    throw new InvalidArgumentError(
      `out of range; expected ${MIN_TIME} (0001-01-01T00:00:00Z) to ` +
        `${MAX_TIME} (2099-12-31T23:59:59Z)`,
    );
  }
  return n;
}

async function runProcess(file: string, opts: ProcessOptions): Promise<number> {
  const config = readConfig(opts.config);
  const nowMs = opts.now !== undefined ? opts.now * 1000 : Date.now();
  const input = (await openInput(file)).stream;
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
included; a line longer than 64 MiB is rejected unread); a summary line
ends stderr.

--now takes whole unix seconds as a decimal integer (no fraction, hex or
exponent), from -62135596800 (0001-01-01) to 4102444799 (2099-12-31
23:59:59 UTC), the times the engines accept.

Exit codes: 0 after a run, 1 with --strict when an event was rejected,
2 for bad usage (an option given twice included) or a bad config.

Examples:
  $ traqq process events.ndjson --config traqq.json
  $ traqq process events.ndjson -c traqq.json --now 1696118400 | redis-cli
  $ gunzip -c events.ndjson.gz | traqq process - -c traqq.json --format json
`;

const INGEST_HELP = `
Input is NDJSON, one event per line. The store is the embedded memory
store kept in ${"`"}.traqq/store.jsonl.gz${"`"} (or --store FILE) unless --redis,
--cluster or the REDIS_URL environment variable names a Redis. Progress
and a summary go to stderr, with each rejected event as {"line":N,...}
and each write Redis refused as {"lines":[...],"error":...,"key":...}.

When Redis stays unreachable longer than --retry-for, the run stops and
says which lines were applied; run it again with the --run-id and
--skip-lines it prints, and no event counts twice.

A line longer than 64 MiB is rejected unread. With a retention, events
whose buckets are already older than it are counted in the summary:
their counters expire at once.

Exit codes: 0 after a run (rejected events included), 1 when the store
failed or could not be saved, 2 for bad usage (an option given twice
included) or a bad config.

Examples:
  $ traqq ingest events.ndjson --config traqq.json
  $ traqq ingest events.ndjson -c traqq.json --redis redis://127.0.0.1:6379
  $ gunzip -c events.ndjson.gz | traqq ingest - -c traqq.json --layout hash
`;

const QUERY_HELP = `
Dates are local days in the config's time zone, --to included; --from
and --to also take RFC 3339 instants or unix seconds (--to excluded).
Read from the store and layout the data was ingested with.

Exit codes: 0 after an answer (an empty one included), 1 when the store
cannot be read, 2 for bad usage (an option given twice included), a bad
config or a bad query.

Examples:
  $ traqq query -c traqq.json --metric add --pattern event --range last-7-days
  $ traqq query -c flights.json --metric add --pattern origin \\
      --from 2001-03-01 --to 2001-03-31 --by total --top 10
  $ traqq query -c flights.json --metric bmp --pattern destination~origin \\
      --from 2001-01-01 --to 2001-06-30 --by total --json
`;

// Larger batches merge more: on the flights, 16384 lines send 0.29
// writes per event where 4096 send 0.72, and ingest 1.5 times as fast.
const INGEST_BATCH = 16384;

const SERVE_HELP = `
Runs until SIGINT or SIGTERM, then writes pending events and closes the
store; the memory store's file is saved then (a query of the file sees
what was saved last). The API is described in docs/http.md.

Examples:
  $ traqq serve -c traqq.json --port 8080
  $ TRAQQ_TOKEN=s3cret traqq serve -c traqq.json --redis redis://127.0.0.1:6379
`;

/** What each subcommand does once commander has parsed its options. */
export interface Actions {
  process(file: string, opts: ProcessOptions): Promise<void>;
  ingest(file: string, opts: IngestCommandOptions): Promise<void>;
  query(opts: QueryCommandOptions): Promise<void>;
  serve(opts: ServeCommandOptions): Promise<void>;
}

function engineOption(): Option {
  return new Option("-e, --engine <name>", "which engine runs the hot path")
    .choices(["wasm", "ts"])
    .default("wasm");
}

function layoutOption(): Option {
  return new Option(
    "--layout <layout>",
    "key layout of the stored counters (default: the one the store " +
      "recorded at its first ingest, else flat)",
  ).choices(["flat", "hash"]);
}

/** Adds the options that pick a store, shared by ingest and query. */
function storeOptions(command: Command): Command {
  return command
    .option(
      "--store <file>",
      "the memory store's file (default .traqq/store.jsonl.gz)",
    )
    .option("--redis <url>", "one Redis server (default: $REDIS_URL if set)")
    .option("--cluster <nodes>", "a Redis Cluster: HOST:PORT,HOST:PORT,...")
    .addOption(layoutOption());
}

/** Builds the commander program; `run` is what executes it. */
export function buildProgram(actions: Actions): Command {
  const program = new Command("traqq")
    .description("Turn JSON analytics events into Redis counters.")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("process")
    .description("Turn NDJSON events into Redis commands.")
    .argument("[file]", "NDJSON file to read, or - for stdin", "-")
    .requiredOption("-c, --config <file>", "traqq config file (JSON)")
    .addOption(engineOption())
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
      wholeNumber(1, MAX_BATCH_LINES),
      4096,
    )
    .addHelpText("after", PROCESS_HELP)
    .action(actions.process);

  const ingest = program
    .command("ingest")
    .description("Count NDJSON events into a store (memory or Redis).")
    .argument("[file]", "NDJSON file to read, or - for stdin", "-")
    .requiredOption("-c, --config <file>", "traqq config file (JSON)");
  storeOptions(ingest)
    .option(
      "--batch <lines>",
      "input lines per batch: merged, then written at once",
      wholeNumber(1, MAX_BATCH_LINES),
      INGEST_BATCH,
    )
    .addOption(engineOption())
    .option(
      "--retention-days <n>",
      "expire day buckets n days after they start",
      wholeNumber(1, MAX_RETENTION_SECONDS / 86_400),
    )
    .option(
      "--retention-hours <n>",
      "expire hour buckets n hours after they start",
      wholeNumber(1, MAX_RETENTION_SECONDS / 3_600),
    )
    .option("--run-id <id>", "name of this run's batches (default: random)")
    .option(
      "--skip-lines <n>",
      "pass over the first n input lines (to resume a run)",
      wholeNumber(0),
    )
    .option(
      "--retry-for <seconds>",
      "how long to retry while Redis is unreachable (default 30)",
      seconds,
    )
    .addHelpText("after", INGEST_HELP)
    .action(actions.ingest);

  const query = program
    .command("query")
    .description("Read stored counters back, as a table or JSON.")
    .requiredOption("-c, --config <file>", "traqq config file (JSON)")
    .addOption(
      new Option("--metric <type>", "bmp: uniques, add: counts, adv: sums, top")
        .choices(["bmp", "add", "adv", "top"])
        .makeOptionMandatory(),
    )
    .requiredOption("--pattern <pattern>", "the pattern, e.g. event~country")
    .option("--add-key <key>", "the summed property, for --metric adv")
    .option("--from <date>", "first day, YYYY-MM-DD (or an instant)")
    .option("--to <date>", "last day, included (or an instant, excluded)")
    .addOption(
      new Option(
        "--range <name>",
        "a named range instead of --from/--to",
      ).choices([
        "today",
        "yesterday",
        "last-7-days",
        "last-30-days",
        "this-month",
        "last-month",
      ]),
    )
    .addOption(
      new Option("--by <granularity>", "columns: hours, days or one total")
        .choices(["hour", "day", "total"])
        .default("day"),
    )
    .option(
      "--top <n>",
      "keep the n values with the largest totals",
      wholeNumber(1),
    )
    .option("--values <list>", "keep only these values (comma-separated)")
    .option("--prefix <text>", "keep only values starting with this")
    .option("--json", "print the result as JSON instead of a table");
  storeOptions(query).addHelpText("after", QUERY_HELP).action(actions.query);

  const serve = program
    .command("serve")
    .description("Answer HTTP: POST /events, GET /query, the dashboard.")
    .requiredOption("-c, --config <file>", "traqq config file (JSON)");
  storeOptions(serve)
    .addOption(engineOption())
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option(
      "--port <port>",
      "port to listen on (0: any free one)",
      wholeNumber(0, 65_535),
      8080,
    )
    .option(
      "--token <token>",
      "require Authorization: Bearer <token> (default: $TRAQQ_TOKEN)",
    )
    .option(
      "--body-limit <bytes>",
      "largest request body (default 1 MiB, at most 256 MiB)",
      wholeNumber(1, 256 << 20),
    )
    .addHelpText("after", SERVE_HELP)
    .action(actions.serve);

  for (const command of program.commands) giveOnce(command);
  return program;
}

/**
 * Makes each option of `command` that takes one value fail when given
 * twice: commander would keep the last silently, and `--now 1 --now 2`
 * is more likely a mistake than a wish.
 */
function giveOnce(command: Command): void {
  const twice = (option: Option): never =>
    command.error(
      `error: option '${option.flags}' is given more than once; give it once`,
      { exitCode: 2, code: "traqq.repeatedOption" },
    );
  for (const option of command.options) {
    if (option.variadic) continue;
    if (!(option.required || option.optional)) {
      // A flag without a value: commander reports each use as an event.
      let seen = false;
      command.on(`option:${option.name()}`, () => {
        if (seen) twice(option);
        seen = true;
      });
      continue;
    }
    // A choices() or custom parser stays: it runs after the check.
    const parse = option.parseArg;
    let given = false;
    option.argParser((value: string, previous: unknown) => {
      if (given) twice(option);
      given = true;
      return parse ? parse(value, previous) : value;
    });
  }
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves to the exit
 * code. Output goes to the process's stdout and stderr.
 */
export async function run(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram({
    process: async (file, opts) => {
      code = await runProcess(file, opts);
    },
    ingest: async (file, opts) => {
      code = await runIngest(file, opts);
    },
    query: async (opts) => {
      code = await runQuery(opts);
    },
    serve: async (opts) => {
      code = await runServe(opts);
    },
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
    // A config the chosen store cannot take (say, braces on a Cluster) is
    // a config error too.
    return e instanceof UsageError || e instanceof ConfigError ? 2 : 1;
  }
}
