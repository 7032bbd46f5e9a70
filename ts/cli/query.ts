/**
 * `traqq query`: one metric and pattern over a range of days, read from
 * a store and printed as an aligned table (or the QueryResult as JSON).
 */
import { Temporal } from "temporal-polyfill";

import { canonicalPattern } from "../config.js";
import {
  query,
  QueryError,
  type Granularity,
  type QueryOptions,
  type QueryResult,
  type RangeShortcut,
} from "../query.js";
import type { Metric } from "../store/keys.js";
import type { Layout, StoreReader } from "../store/types.js";
import type { Config } from "../types.js";
import { readConfig, UsageError, write } from "./common.js";
import {
  chooseStore,
  describeStore,
  openForReading,
  type StoreChoice,
} from "./stores.js";

/** Options of `traqq query`, as commander hands them over. */
export interface QueryCommandOptions {
  config: string;
  metric: Metric;
  pattern: string;
  addKey?: string;
  from?: string;
  to?: string;
  range?: RangeShortcut;
  by: Granularity;
  top?: number;
  values?: string;
  prefix?: string;
  json?: boolean;
  store?: string;
  redis?: string;
  cluster?: string;
  layout?: Layout;
}

/** Runs `traqq query` and resolves to the exit code. */
export async function runQuery(opts: QueryCommandOptions): Promise<number> {
  // The store's path first: a bad one must fail before anything is read.
  const choice = chooseStore(opts);
  const config = readConfig(opts.config);
  const q = queryOptions(opts, config);
  await validate(config, q, opts.layout);

  const opened = await openForReading(choice, {
    prefix: config.prefix,
    layout: opts.layout ?? "flat",
  });
  let result: QueryResult;
  try {
    result = await query(
      { config, store: opened.store, layout: opts.layout },
      q,
    );
  } catch (e) {
    if (e instanceof QueryError) throw new UsageError(asOptions(e.message));
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`cannot read ${describeStore(choice)}: ${message}`);
  } finally {
    await opened.release(false);
  }

  if (opts.json === true) {
    await write(process.stdout, JSON.stringify(result) + "\n");
  } else {
    const title = describeQuery(result, config.time.timezone, q);
    await write(process.stdout, title + "\n" + formatTable(result));
  }
  const empty =
    result.metric === "bmp"
      ? result.totals[0]?.[1] === 0
      : result.totals.length === 0;
  if (empty && opts.json !== true) {
    process.stderr.write(emptyHint(result, config.time.timezone, choice));
  }
  return 0;
}

/**
 * Checks the options against each other and the config, so that a typo
 * fails with a message instead of printing an empty table.
 */
function queryOptions(opts: QueryCommandOptions, config: Config): QueryOptions {
  const hasDates = opts.from !== undefined || opts.to !== undefined;
  if (opts.range !== undefined && hasDates) {
    throw new UsageError("give either --range or --from and --to, not both");
  }
  if (
    opts.range === undefined &&
    (opts.from === undefined || opts.to === undefined)
  ) {
    throw new UsageError(
      "a range is needed: --from DATE --to DATE, or --range NAME",
    );
  }
  if (opts.metric === "adv" && opts.addKey === undefined) {
    throw new UsageError("--add-key is needed with --metric adv");
  }
  if (opts.metric !== "adv" && opts.addKey !== undefined) {
    throw new UsageError("--add-key only applies to --metric adv");
  }
  const filters = ["top", "values", "prefix"] as const;
  const filter = filters.find((f) => opts[f] !== undefined);
  if (opts.metric === "bmp" && filter !== undefined) {
    throw new UsageError(
      `--${filter} does not apply to --metric bmp: a unique count has no values`,
    );
  }
  checkConfigured(opts, config);
  return {
    metric: opts.metric,
    pattern: opts.pattern,
    addKey: opts.addKey,
    from: opts.from,
    to: opts.to,
    range: opts.range,
    by: opts.by,
    top: opts.top,
    values: opts.values?.split(","),
    valuePrefix: opts.prefix,
  };
}

/** Nothing is stored in it: asking it checks a query's options for free. */
const EMPTY: StoreReader & { tagged: boolean } = {
  tagged: false,
  mget: async (keys) => keys.map(() => null),
  hgetall: async () => ({}),
  smembers: async () => [],
  zscores: async () => [],
  pfcount: async () => 0,
};

/**
 * Runs the query against an empty reader, so that a bad range or
 * granularity fails before a large memory store spends seconds loading.
 */
async function validate(
  config: Config,
  q: QueryOptions,
  layout: Layout | undefined,
): Promise<void> {
  try {
    await query({ config, store: EMPTY, layout }, q);
  } catch (e) {
    if (e instanceof QueryError) throw new UsageError(asOptions(e.message));
    throw e;
  }
}

/** `from, to: ...` as the CLI spells the options: `--from, --to: ...`. */
function asOptions(message: string): string {
  const m = /^([A-Za-z, ]+): /.exec(message);
  if (!m) return message;
  const names = m[1]!
    .split(", ")
    .map((n) => "--" + n.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
  return names.join(", ") + message.slice(m[1]!.length);
}

/**
 * Fails unless the config maps the metric and pattern asked about (and,
 * for `adv`, sums the `--add-key` property per that pattern), listing
 * what it does map.
 */
function checkConfigured(opts: QueryCommandOptions, config: Config): void {
  const asked = canonicalPattern(opts.pattern);
  if (asked.error) throw new UsageError(`--pattern: ${asked.error}`);
  const canon = (p: string) => canonicalPattern(p).name;
  const m = config.mapping;
  if (opts.metric === "adv") {
    const sums = m.addValue
      .filter((a) => canon(a.key) === asked.name)
      .map((a) => a.addKey);
    if (sums.includes(opts.addKey!)) return;
    if (sums.length > 0) {
      // The pattern is summed, only not this property: name the right ones.
      throw new UsageError(
        `--add-key: the config sums ${sums.map((k) => JSON.stringify(k)).join(", ")} ` +
          `per ${JSON.stringify(opts.pattern)}, not ${JSON.stringify(opts.addKey)}`,
      );
    }
    const has = m.addValue.map((a) => `${canon(a.key)} (${a.addKey})`);
    throw notMapped(opts.pattern, "mapping.addValue", has);
  }
  const field = ({ bmp: "bitmap", add: "add", top: "top" } as const)[
    opts.metric
  ];
  const known = m[field].map(canon);
  if (!known.includes(asked.name)) {
    throw notMapped(opts.pattern, `mapping.${field}`, known);
  }
}

function notMapped(pattern: string, field: string, has: string[]): UsageError {
  return new UsageError(
    `--pattern: ${JSON.stringify(pattern)} is not in the config's ${field}; ` +
      `it has: ${has.length > 0 ? has.join(", ") : "none"}`,
  );
}

/** The heading line: what was asked, over which local days. */
export function describeQuery(
  r: QueryResult,
  zone: string,
  q: { addKey?: string; top?: number },
): string {
  const what = {
    bmp: `unique ${r.pattern}`,
    add: `count per ${r.pattern}`,
    adv: `sum of ${q.addKey} per ${r.pattern}`,
    top: `top ${r.pattern}`,
  }[r.metric];
  const top = q.top;
  const range = `${localPoint(r.from, zone, false)} to ${localPoint(r.to, zone, true)}`;
  const by = r.by === "total" ? "in total" : `by ${r.by}`;
  const limit = top !== undefined ? `, top ${top}` : "";
  return `${what}, ${range} (${zone}), ${by}${limit}`;
}

/** A date when `t` starts a local day (the last day for an end), else an instant. */
function localPoint(t: number, zone: string, end: boolean): string {
  const z = Temporal.Instant.fromEpochMilliseconds(t * 1000).toZonedDateTimeISO(
    zone,
  );
  if (z.startOfDay().epochMilliseconds !== z.epochMilliseconds) {
    return z.toString({ timeZoneName: "never", smallestUnit: "minute" });
  }
  return (end ? z.subtract({ days: 1 }) : z).toPlainDate().toString();
}

/**
 * The result as an aligned text table: one row per value (largest total
 * first) and one column per bucket, plus the total over the range; for
 * `bmp` one row of unique counts, whose last column is the union.
 *
 * @example
 * formatTable(result);
 * // "origin  total\nATL     123\n"
 */
export function formatTable(r: QueryResult): string {
  const perBucket = r.by !== "total";
  const header = [
    r.pattern,
    ...(perBucket ? r.buckets.map((b) => b.label) : []),
  ];
  header.push(r.metric === "bmp" && perBucket ? "union" : "total");

  const rows: string[][] = [];
  if (r.metric === "bmp") {
    const union = r.totals[0]?.[1] ?? 0;
    const cells = perBucket
      ? r.buckets.map((b) => number(b.values[""] ?? 0))
      : [];
    rows.push(["unique", ...cells, number(union)]);
  } else {
    for (const [value, total] of r.totals) {
      const cells = perBucket
        ? r.buckets.map((b) => number(b.values[value] ?? 0))
        : [];
      rows.push([value, ...cells, number(total)]);
    }
  }

  const widths = header.map((h, i) =>
    Math.max(width(h), ...rows.map((row) => width(row[i]!))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 ? pad(c, widths[i]!, "end") : pad(c, widths[i]!, "start"),
      )
      .join("  ")
      .trimEnd() + "\n";
  return line(header) + rows.map(line).join("");
}

/**
 * Counts as they are; sums to 15 significant digits, which drops float
 * noise (`0.30000000000000004`) but keeps small sums (`2e-7`).
 */
export function number(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(15)));
}

/** Width in code points, so that a value like `ZÜRICH` lines up. */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, w: number, side: "start" | "end"): string {
  const fill = " ".repeat(Math.max(0, w - width(s)));
  return side === "start" ? fill + s : s + fill;
}

// An empty answer is easy to mistake for a broken query: say so on
// stderr, with what was asked and where. The store records its layout,
// so the layout is never why.
function emptyHint(r: QueryResult, zone: string, choice: StoreChoice): string {
  const range = `${localPoint(r.from, zone, false)} to ${localPoint(r.to, zone, true)}`;
  return (
    `traqq: no ${r.metric} data for pattern ${r.pattern} from ${range} ` +
    `(${zone}) in ${describeStore(choice)}\n`
  );
}
