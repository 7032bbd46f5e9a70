/**
 * Turns vega-datasets' `flights-3m.parquet` (3,000,000 U.S. flights, first
 * half of 2001) into `data/flights.ndjson`, one `flight` event per line,
 * the input of traqq's main job.
 *
 * Usage: `node dist/scripts/flights.js [--force] [--out FILE]`. Prints the
 * output path and the event count on stdout, progress on stderr.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  type WriteStream,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  asyncBufferFromFile,
  parquetMetadataAsync,
  parquetRead,
  type AsyncBuffer,
  type ColumnData,
  type FileMetaData,
} from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { Temporal } from "temporal-polyfill";

/** The zone whose wall clock the parquet `date` column is written in. */
export const FLIGHTS_ZONE = "America/New_York";

const HOUR_MS = 3_600_000;

/** How one local wall-clock hour maps to instants and an RFC 3339 offset. */
interface HourRule {
  /** Instant minus wall time, as if the wall time were UTC. */
  shiftMs: number;
  /** Offset of the resolved instant in milliseconds (negative west). */
  offsetMs: number;
  /** The same offset as RFC 3339 writes it, e.g. `-05:00`. */
  offset: string;
}

/**
 * Converts wall-clock times of one zone to RFC 3339 strings with offset,
 * resolving gaps and overlaps as Temporal's `compatible` disambiguation
 * does (a time in a spring-forward gap moves forward by the gap).
 *
 * @example
 * new WallClock("America/New_York").format(Date.UTC(2001, 3, 1, 2, 30));
 * // "2001-04-01T03:30:00-04:00"
 */
export class WallClock {
  // Temporal costs microseconds per call; 3M rows only ever touch a few
  // thousand distinct hours, so each hour is resolved once.
  private readonly hours = new Map<number, HourRule | null>();

  constructor(readonly zone: string) {}

  /** The RFC 3339 string of a wall time given as ms "as if UTC". */
  format(wallMs: number): string {
    const rule = this.rule(Math.floor(wallMs / HOUR_MS));
    if (rule === null) return this.exact(wallMs);
    const local = new Date(wallMs + rule.shiftMs + rule.offsetMs);
    return local.toISOString().slice(0, 19) + rule.offset;
  }

  /** The same result straight from Temporal, one call per time. */
  exact(wallMs: number): string {
    const zoned = this.resolve(wallMs);
    return zoned.toString({ timeZoneName: "never" });
  }

  private rule(hour: number): HourRule | null {
    let rule = this.hours.get(hour);
    if (rule !== undefined) return rule;
    // A zone could change offset inside an hour (none here does, but
    // Lord Howe shifts by 30 minutes): then the hour is not cached.
    const first = this.ruleAt(hour * HOUR_MS);
    const last = this.ruleAt((hour + 1) * HOUR_MS - 1000);
    const same =
      first.shiftMs === last.shiftMs && first.offsetMs === last.offsetMs;
    rule = same ? first : null;
    this.hours.set(hour, rule);
    return rule;
  }

  private ruleAt(wallMs: number): HourRule {
    const zoned = this.resolve(wallMs);
    const offsetMs = zoned.offsetNanoseconds / 1e6;
    return {
      shiftMs: zoned.epochMilliseconds - wallMs,
      offsetMs,
      offset: zoned.offset,
    };
  }

  private resolve(wallMs: number): Temporal.ZonedDateTime {
    const plain = Temporal.Instant.fromEpochMilliseconds(wallMs)
      .toZonedDateTimeISO("UTC")
      .toPlainDateTime();
    return plain.toZonedDateTime(this.zone, { disambiguation: "compatible" });
  }
}

// Known answers for 2001 in New York, fixed by U.S. law at the time (DST
// from the first Sunday of April, 02:00, to the last Sunday of October),
// so the conversion is checked against something other than Temporal.
const KNOWN: [string, string][] = [
  ["2001-01-01T00:01:00", "2001-01-01T00:01:00-05:00"],
  ["2001-04-01T01:59:00", "2001-04-01T01:59:00-05:00"],
  ["2001-04-01T02:00:00", "2001-04-01T03:00:00-04:00"],
  ["2001-04-01T02:30:00", "2001-04-01T03:30:00-04:00"],
  ["2001-04-01T03:00:00", "2001-04-01T03:00:00-04:00"],
  ["2001-06-30T23:59:00", "2001-06-30T23:59:00-04:00"],
  ["2001-10-28T01:30:00", "2001-10-28T01:30:00-04:00"],
  ["2001-10-28T02:00:00", "2001-10-28T02:00:00-05:00"],
];

function checkKnownAnswers(clock: WallClock): void {
  for (const [wall, expected] of KNOWN) {
    const wallMs = Date.parse(wall + "Z");
    for (const got of [clock.format(wallMs), clock.exact(wallMs)]) {
      if (got !== expected) {
        throw new Error(
          `time conversion: ${wall} gave ${got}, not ${expected}`,
        );
      }
    }
  }
}

/** Finds the repository root: the nearest folder with a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no package.json above " + dir);
    dir = up;
  }
  return dir;
}

/** Counts the lines of a file without holding it in memory. */
export async function countLines(path: string): Promise<number> {
  let count = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
      count++;
    }
  }
  return count;
}

/** One row group's columns, as hyparquet hands them over. */
export interface Columns {
  date: bigint[];
  delay: bigint[];
  distance: bigint[];
  origin: string[];
  destination: string[];
}

const COLUMNS = ["date", "delay", "distance", "origin", "destination"];

/**
 * Reads rows `rowStart..rowEnd` (one row group) of the flights file; the
 * `date` column comes as wall-clock microseconds, as if UTC.
 */
export async function readRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  rowStart: number,
  rowEnd: number,
): Promise<Columns> {
  const cols: Record<string, unknown[]> = {};
  for (const name of COLUMNS) cols[name] = new Array(rowEnd - rowStart);
  const onChunk = (chunk: ColumnData) => {
    const target = cols[chunk.columnName];
    if (!target) return;
    // Chunks may reach outside the requested rows; keep only ours.
    for (let row = chunk.rowStart; row < chunk.rowEnd; row++) {
      if (row >= rowStart && row < rowEnd) {
        target[row - rowStart] = chunk.columnData[row - chunk.rowStart];
      }
    }
  };
  await parquetRead({
    file,
    metadata,
    compressors,
    columns: COLUMNS,
    rowStart,
    rowEnd,
    // Microseconds as given: a Date per row would cost time and hide that
    // the column has no zone.
    parsers: { timestampFromMicroseconds: (micros: bigint) => micros },
    onChunk,
  });
  return cols as unknown as Columns;
}

function writeChunk(out: WriteStream, text: string): Promise<void> {
  if (out.write(text)) return Promise.resolve();
  return new Promise((done) => out.once("drain", done));
}

/** What {@link convertFlights} did. */
export interface ConvertResult {
  path: string;
  events: number;
  /** Seconds spent converting; 0 when an existing file was reused. */
  seconds: number;
  reused: boolean;
}

/**
 * Writes the NDJSON events for the parquet file at `input` to `output`,
 * one row group at a time, unless `output` already holds every row.
 */
export async function convertFlights(
  input: string,
  output: string,
  force = false,
): Promise<ConvertResult> {
  const file = await asyncBufferFromFile(input);
  const metadata = await parquetMetadataAsync(file);
  const rows = Number(metadata.num_rows);
  // The file is only ever renamed into place once complete, but a count
  // also catches a copy from an older, different conversion.
  if (!force && existsSync(output) && (await countLines(output)) === rows) {
    return { path: output, events: rows, seconds: 0, reused: true };
  }

  const started = performance.now();
  const clock = new WallClock(FLIGHTS_ZONE);
  checkKnownAnswers(clock);
  mkdirSync(dirname(output), { recursive: true });
  const temp = `${output}.tmp-${process.pid}`;
  const out = createWriteStream(temp);
  let rowStart = 0;
  let checked = 0;
  try {
    for (const [g, group] of metadata.row_groups.entries()) {
      const rowEnd = rowStart + Number(group.num_rows);
      const c = await readRowGroup(file, metadata, rowStart, rowEnd);
      let text = "";
      for (let i = 0; i < rowEnd - rowStart; i++) {
        const micros = c.date[i]!;
        // The data is whole minutes; a fraction would be dropped by
        // format(), so rather stop than write a wrong time.
        if (micros % 1_000_000n !== 0n) {
          throw new Error(
            `row ${rowStart + i}: date has a fraction of a second`,
          );
        }
        const wallMs = Number(micros / 1000n);
        const time = clock.format(wallMs);
        // A cheap spot check of the hour cache against Temporal itself.
        if ((rowStart + i) % 1000 === 0) {
          const exact = clock.exact(wallMs);
          if (exact !== time) {
            throw new Error(
              `row ${rowStart + i}: ${time} but Temporal ${exact}`,
            );
          }
          checked++;
        }
        text +=
          `{"event":"flight","time":"${time}",` +
          `"origin":${JSON.stringify(c.origin[i])},` +
          `"destination":${JSON.stringify(c.destination[i])},` +
          `"delay":${c.delay[i]},"distance":${c.distance[i]}}\n`;
        if (text.length > 1 << 20) {
          await writeChunk(out, text);
          text = "";
        }
      }
      await writeChunk(out, text);
      process.stderr.write(
        `flights: row group ${g + 1}/${metadata.row_groups.length}, ` +
          `${rowEnd} rows\n`,
      );
      rowStart = rowEnd;
    }
    await new Promise<void>((done, fail) => {
      out.once("error", fail);
      out.end(done);
    });
  } catch (err) {
    out.destroy();
    rmSync(temp, { force: true });
    throw err;
  }
  renameSync(temp, output);

  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `flights: ${checked} times spot-checked against Temporal\n`,
  );
  return { path: output, events: rowStart, seconds, reused: false };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      out: { type: "string" },
      force: { type: "boolean", default: false },
    },
  });
  const root = repoRoot();
  const output = args.out
    ? resolve(args.out)
    : join(root, "data", "flights.ndjson");
  const input = join(
    root,
    "node_modules",
    "vega-datasets",
    "data",
    "flights-3m.parquet",
  );
  if (!existsSync(input)) {
    throw new Error(`${input} is missing: run npm install (vega-datasets 3)`);
  }

  const r = await convertFlights(input, output, args.force);

  const near = relative(process.cwd(), r.path);
  const shown = near && !near.startsWith("..") ? near : r.path;
  if (r.reused) {
    console.log(`${shown}: ${r.events} events (complete, kept)`);
  } else {
    const rate = Math.round(r.events / r.seconds);
    console.log(
      `${shown}: ${r.events} events, converted in ` +
        `${r.seconds.toFixed(1)} s (${rate} events/s)`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`flights: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
