/**
 * Checks traqq's query answers on the flights against a computation made
 * straight from vega-datasets' parquet file, without traqq's engines:
 *
 * (a) flights per origin per local day in March 2001;
 * (b) flights per route (destination~origin) per day from 2001-03-29 to
 *     2001-04-04, a week that crosses the 2001-04-01 change to DST;
 * (c) distinct routes over 2001-01-01..2001-06-30, exactly, against the
 *     HyperLogLog estimate (within its standard error, 1.04/sqrt(16384)).
 *
 * traqq's side is a memory store: the file `scripts/main.sh` writes when
 * it is there and complete, or else a fresh ingest of
 * `data/flights.ndjson`. Each check is asked twice, through `query()` and
 * through `traqq query --json`.
 *
 * Usage: `node dist/bench/verify-queries.js [--store FILE] [--fresh]
 * [--config FILE]`. Exits 1 when a check fails.
 */
import { execFile } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";

import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";

import {
  FLIGHTS_ZONE,
  readRowGroup,
  repoRoot,
  WallClock,
} from "../scripts/flights.js";
import {
  createEngineSync,
  ingest,
  loadConfigFile,
  openMemoryStore,
  query,
  type Config,
  type Layout,
  type MemoryStore,
  type QueryOptions,
  type QueryResult,
} from "../ts/node.js";

const { values: args } = parseArgs({
  options: {
    store: { type: "string" },
    fresh: { type: "boolean", default: false },
    config: { type: "string" },
  },
});

const MARCH = { from: "2001-03-01", to: "2001-03-31" };
const DST_WEEK = { from: "2001-03-29", to: "2001-04-04" };
const HALF_YEAR = { from: "2001-01-01", to: "2001-06-30" };
/** Every flight: the data ends with six stamped at midnight of July 1. */
const ALL = { from: "2001-01-01", to: "2001-07-01" };
/** HyperLogLog's standard error with Redis's 16384 registers. */
const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(16384);

/** Counts per local day, then per value. */
type DayCounts = Map<string, Map<string, number>>;

/** What the parquet file says, computed without traqq. */
interface Truth {
  rows: number;
  originByDay: DayCounts;
  routeByDay: DayCounts;
  routes: Set<string>;
  /** Rows whose NDJSON time (scripts/flights.ts) has another local date. */
  dateDisagreements: number;
}

const inRange = (d: string, r: { from: string; to: string }) =>
  d >= r.from && d <= r.to;

function bump(m: DayCounts, day: string, value: string): void {
  let values = m.get(day);
  if (!values) m.set(day, (values = new Map()));
  values.set(value, (values.get(value) ?? 0) + 1);
}

/**
 * Tallies the parquet rows. The `date` column is New York wall-clock
 * time, so a row's local date is simply its date part: no zone rules are
 * needed (a time in the spring-forward gap moves by an hour, never past
 * midnight). The RFC 3339 time that the NDJSON carries is derived too,
 * and its date must be the same.
 */
async function fromParquet(path: string): Promise<Truth> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const clock = new WallClock(FLIGHTS_ZONE);
  const truth: Truth = {
    rows: 0,
    originByDay: new Map(),
    routeByDay: new Map(),
    routes: new Set(),
    dateDisagreements: 0,
  };
  // 3M rows span some 180 days: format each day once.
  const dayNames = new Map<number, string>();
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const c = await readRowGroup(file, metadata, rowStart, rowEnd);
    for (let i = 0; i < rowEnd - rowStart; i++) {
      const wallMs = Number(c.date[i]! / 1000n);
      const dayNumber = Math.floor(wallMs / 86_400_000);
      let day = dayNames.get(dayNumber);
      if (day === undefined) {
        day = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
        dayNames.set(dayNumber, day);
      }
      if (clock.format(wallMs).slice(0, 10) !== day) {
        truth.dateDisagreements++;
      }
      const origin = c.origin[i]!;
      const route = `${c.destination[i]!}~${origin}`;
      if (inRange(day, MARCH)) bump(truth.originByDay, day, origin);
      if (inRange(day, DST_WEEK)) bump(truth.routeByDay, day, route);
      if (inRange(day, HALF_YEAR)) truth.routes.add(route);
    }
    truth.rows += rowEnd - rowStart;
    rowStart = rowEnd;
  }
  return truth;
}

/** The flights traqq's store holds, by the `add event` total. */
async function heldFlights(
  config: Config,
  store: MemoryStore,
  layout: Layout,
): Promise<number> {
  const r = await query(
    { config, store, layout },
    { metric: "add", pattern: "event", ...ALL, by: "total" },
  );
  return r.totals.reduce((a, [, n]) => a + n, 0);
}

/** A memory store holding every flight, and how it was obtained. */
async function traqqStore(
  root: string,
  config: Config,
  rows: number,
): Promise<{ store: MemoryStore; layout: Layout; file: string; how: string }> {
  const file = resolve(
    args.store ?? join(root, "data", "flights-store.jsonl.gz"),
  );
  const shown = relative(process.cwd(), file);
  if (!args.fresh && existsSync(file)) {
    // A lock means an ingest is still writing; its file is the last one.
    if (existsSync(`${file}.lock`)) {
      process.stderr.write(`verify: ${shown} is locked by an ingest\n`);
    } else {
      const store = await openMemoryStore({ file });
      for (const layout of ["flat", "hash"] as const) {
        const held = await heldFlights(config, store, layout);
        if (held === rows) {
          return { store, layout, file, how: `${shown} (layout ${layout})` };
        }
      }
      process.stderr.write(`verify: ${shown} does not hold all ${rows}\n`);
    }
  }

  const input = join(root, "data", "flights.ndjson");
  if (!existsSync(input)) {
    throw new Error(`${input} is missing: node dist/scripts/flights.js`);
  }
  process.stderr.write(`verify: ingesting ${input} into a memory store\n`);
  const engine = createEngineSync({ config });
  const store = await openMemoryStore();
  const stats = await ingest(createReadStream(input), { engine, store });
  engine.free();
  // Saved so that `traqq query` can read the same store.
  const dir = mkdtempSync(join(tmpdir(), "traqq-verify-"));
  const saved = join(dir, "store.jsonl.gz");
  await store.save(saved);
  return {
    store,
    layout: "flat",
    file: saved,
    how:
      `a fresh ingest of ${relative(process.cwd(), input)} ` +
      `(${stats.accepted} accepted, ${stats.rejected} rejected, ` +
      `${stats.seconds.toFixed(1)} s)`,
  };
}

/** The same query through the command line, as a user would ask it. */
async function viaCli(
  root: string,
  configPath: string,
  file: string,
  layout: Layout,
  q: QueryOptions,
): Promise<QueryResult> {
  const args = [
    join(root, "bin", "traqq.js"),
    "query",
    "--config",
    configPath,
    "--store",
    file,
    "--layout",
    layout,
    "--metric",
    q.metric,
    "--pattern",
    q.pattern,
    "--from",
    String(q.from),
    "--to",
    String(q.to),
    "--by",
    q.by ?? "day",
    "--json",
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    maxBuffer: 1 << 28,
  });
  return JSON.parse(stdout) as QueryResult;
}

/** Compares per-day counts exactly; the first few differences are kept. */
function compareDays(
  expected: DayCounts,
  days: string[],
  got: QueryResult,
): { cells: number; flights: number; diffs: string[] } {
  const diffs: string[] = [];
  const labels = got.buckets.map((b) => b.label);
  if (labels.join() !== days.join()) {
    diffs.push(`days ${labels.join(",")}, expected ${days.join(",")}`);
  }
  let cells = 0;
  let flights = 0;
  for (const day of days) {
    const want = expected.get(day) ?? new Map<string, number>();
    const have = got.buckets.find((b) => b.label === day)?.values ?? {};
    for (const v of new Set([...want.keys(), ...Object.keys(have)])) {
      const w = want.get(v) ?? 0;
      const h = have[v] ?? 0;
      cells++;
      flights += w;
      if (w !== h && diffs.length < 5) {
        diffs.push(`${day} ${v}: traqq ${h}, parquet ${w}`);
      }
    }
  }
  return { cells, flights, diffs };
}

/** The local days from `from` to `to`, both included. */
function daysOf(r: { from: string; to: string }): string[] {
  const out: string[] = [];
  for (let t = Date.parse(r.from); ; t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    out.push(d);
    if (d === r.to) return out;
  }
}

async function main(): Promise<void> {
  const root = repoRoot();
  const started = performance.now();
  const configPath = resolve(
    args.config ?? join(root, "examples", "flights.json"),
  );
  const config = loadConfigFile(configPath);
  if (config.time.timezone !== FLIGHTS_ZONE) {
    throw new Error(`${configPath}: the checks assume ${FLIGHTS_ZONE}`);
  }
  const parquet = join(
    root,
    "node_modules",
    "vega-datasets",
    "data",
    "flights-3m.parquet",
  );
  process.stderr.write(`verify: reading ${parquet}\n`);
  const truth = await fromParquet(parquet);
  const parquetSeconds = (performance.now() - started) / 1000;
  const { store, layout, file, how } = await traqqStore(
    root,
    config,
    truth.rows,
  );
  console.log(
    `verify: ${truth.rows} parquet rows (read in ` +
      `${parquetSeconds.toFixed(1)} s) against ${how}`,
  );

  const failures: string[] = [];
  const report = (name: string, ok: boolean, text: string) => {
    console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${text}`);
    if (!ok) failures.push(name);
  };
  report(
    "local dates",
    truth.dateDisagreements === 0,
    `${truth.dateDisagreements} rows whose NDJSON time has another date`,
  );

  const ctx = { config, store, layout };
  const checks = [
    {
      name: "(a) add origin by day, March 2001",
      q: { metric: "add", pattern: "origin", ...MARCH },
      days: daysOf(MARCH),
      expected: truth.originByDay,
    },
    {
      name: "(b) add destination~origin by day, 2001-03-29..04-04",
      q: { metric: "add", pattern: "destination~origin", ...DST_WEEK },
      days: daysOf(DST_WEEK),
      expected: truth.routeByDay,
    },
  ] as const;
  for (const c of checks) {
    const q: QueryOptions = { ...c.q, by: "day" };
    for (const [via, got] of [
      ["query()", await query(ctx, q)],
      ["traqq query", await viaCli(root, configPath, file, layout, q)],
    ] as const) {
      const r = compareDays(c.expected, c.days, got);
      report(
        `${c.name}, ${via}`,
        r.diffs.length === 0 && r.flights > 0,
        `${c.days.length} days, ${r.cells} day-value counts, ` +
          `${r.flights} flights` +
          (r.diffs.length > 0 ? `; differ: ${r.diffs.join("; ")}` : ""),
      );
    }
  }

  const exact = truth.routes.size;
  const uq: QueryOptions = {
    metric: "bmp",
    pattern: "destination~origin",
    ...HALF_YEAR,
    by: "total",
  };
  for (const [via, got] of [
    ["query()", await query(ctx, uq)],
    ["traqq query", await viaCli(root, configPath, file, layout, uq)],
  ] as const) {
    const estimate = got.totals[0]?.[1] ?? 0;
    const error = (estimate - exact) / exact;
    report(
      `(c) bmp destination~origin total, 2001-01-01..06-30, ${via}`,
      Math.abs(error) <= HLL_STANDARD_ERROR,
      `${estimate} unique routes, exactly ${exact}: relative error ` +
        `${(error * 100).toFixed(3)}% (standard error ` +
        `${(HLL_STANDARD_ERROR * 100).toFixed(3)}%)`,
    );
  }

  if (file.startsWith(tmpdir())) {
    rmSync(join(file, ".."), { recursive: true, force: true });
  }
  const wall = ((performance.now() - started) / 1000).toFixed(1);
  if (failures.length > 0) {
    console.log(`FAIL (${wall} s): ${failures.length} checks failed`);
    process.exit(1);
  }
  console.log(`PASS (${wall} s): traqq's answers equal the parquet's`);
}

main().catch((err: unknown) => {
  console.error(`verify: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
