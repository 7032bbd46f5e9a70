/**
 * Queries over stored counters: one metric and pattern, a range of local
 * days (or instants), per hour, per day or in total. Ranges walk the
 * zone's real days, so a 23- or 25-hour day is one day; unique counts
 * over several buckets are one `PFCOUNT` over all of them (a union),
 * never a sum. Every read names its keys: nothing scans the keyspace.
 */
import { Temporal } from "temporal-polyfill";

import { canonicalPattern } from "./config.js";
import { Buckets, MAX_TIME, MIN_TIME, parseRfc3339 } from "./core/time.js";
import {
  indexKeyOf,
  keyOf,
  type BucketKind,
  type KeyStyle,
  type Metric,
  type Place,
} from "./store/keys.js";
import { LayoutMismatchError, resolveLayout } from "./store/layout.js";
import type { Layout, StoreReader } from "./store/types.js";
import type { Config } from "./types.js";

/** A bucket granularity of a query. */
export type Granularity = "hour" | "day" | "total";

/** Named ranges, relative to the clock, in the configured zone. */
export type RangeShortcut =
  | "today"
  | "yesterday"
  | "last-7-days"
  | "last-30-days"
  | "this-month"
  | "last-month";

/** What to ask. */
export interface QueryOptions {
  metric: Metric;
  pattern: string;
  /** The summed property, for `adv`. */
  addKey?: string;
  /** First day (`YYYY-MM-DD`, local) or instant (RFC 3339, unix seconds). */
  from?: string | number;
  /** Last day, inclusive, or the instant the range ends at (exclusive). */
  to?: string | number;
  /** A named range instead of `from` and `to`. */
  range?: RangeShortcut;
  by?: Granularity;
  /** Keep only these values. */
  values?: string[];
  /** Keep only values starting with this. */
  valuePrefix?: string;
  /** Keep the `top` values by their total. */
  top?: number;
}

/** One bucket of a result. */
export interface BucketResult {
  /** Unix second the bucket starts at; for `total`, the range's start. */
  start: number;
  /** Local label: `2001-03-25`, `2001-03-25T02:00`, or `total`. */
  label: string;
  /** Per value: counts, sums; for `bmp`, one entry `""` with the unique count. */
  values: Record<string, number>;
}

/** A query's answer. */
export interface QueryResult {
  metric: Metric;
  pattern: string;
  by: Granularity;
  /**
   * The span the buckets read cover, `[from, to)` in unix seconds: the
   * range asked for, widened to whole buckets.
   */
  from: number;
  to: number;
  buckets: BucketResult[];
  /** Per value over the whole range, largest first (for `bmp`: the union). */
  totals: [string, number][];
}

/** Where a query reads from and how keys are spelled there. */
export interface QueryContext {
  config: Config;
  store: StoreReader & { tagged: boolean };
  /** Default: the layout recorded in the store at ingest, else `flat`. */
  layout?: Layout;
  /** Milliseconds, for the named ranges. Default `Date.now`. */
  clock?: () => number;
}

/** The most buckets one query reads: ten years of days, or a year of hours. */
export const MAX_BUCKETS = 3660;

/** A query that cannot be answered as asked; the message says which option. */
export class QueryError extends Error {
  override name = "QueryError";
}

/**
 * Answers a query.
 *
 * @example
 * await query(ctx, { metric: "add", pattern: "event~origin", from: "2001-03-01", to: "2001-03-31", by: "day" });
 */
export async function query(
  ctx: QueryContext,
  q: QueryOptions,
): Promise<QueryResult> {
  const { config } = ctx;
  const by = q.by ?? "day";
  const canonical = canonicalPattern(q.pattern);
  if (canonical.error) throw new QueryError(`pattern: ${canonical.error}`);
  checkAsked(config, q, canonical.name);
  if (ctx.store.tagged && /[{}]/.test(canonical.name + config.prefix)) {
    throw new QueryError(
      `pattern: "{" and "}" cannot be used with a Redis Cluster (they mark hash tags)`,
    );
  }
  if (by === "hour" && !config.time.storeHourly) {
    throw new QueryError(
      "by: hour buckets need time.storeHourly in the config",
    );
  }
  const zone = config.time.timezone;
  const buckets = new Buckets(zone);
  const [asked, askedTo] = resolveRange(q, zone, ctx.clock ?? Date.now);
  const kind: BucketKind = by === "hour" ? "h" : "d";
  const span = (askedTo - asked) / (kind === "h" ? 3600 : 86400);
  if (span > MAX_BUCKETS) {
    throw new QueryError(
      `from, to: the range spans about ${Math.ceil(span)} ${by === "hour" ? "hours" : "days"}; ` +
        `at most ${MAX_BUCKETS} buckets are read per query`,
    );
  }
  const starts =
    kind === "h"
      ? hourStarts(buckets, asked, askedTo)
      : dayStarts(buckets, asked, askedTo);
  // Buckets are read whole: the answer says what they cover, which is
  // more than was asked when an instant falls inside one.
  const from = starts[0] ?? asked;
  const to =
    starts.length > 0 ? bucketEnd(buckets, kind, starts.at(-1)!) : askedTo;

  const style: KeyStyle = {
    prefix: config.prefix,
    layout: await layoutOf(ctx),
    tagged: ctx.store.tagged,
  };
  const place = (ts: number): Place => ({
    metric: q.metric,
    bucket: kind,
    ts,
    pattern: canonical.name,
    addKey: q.addKey,
  });
  const keep = (v: string) =>
    (!q.values || q.values.includes(v)) &&
    (!q.valuePrefix || v.startsWith(q.valuePrefix));

  if (q.metric === "bmp") {
    const keys = starts.map((ts) => keyOf(style, place(ts)));
    const total = await ctx.store.pfcount(keys);
    const perBucket =
      by === "total"
        ? []
        : await Promise.all(
            starts.map(async (ts, i) => ({
              start: ts,
              label: label(ts, zone, by),
              values: { "": await ctx.store.pfcount([keys[i]!]) },
            })),
          );
    return {
      metric: q.metric,
      pattern: canonical.name,
      by,
      from,
      to,
      buckets:
        by === "total"
          ? [{ start: from, label: "total", values: { "": total } }]
          : perBucket,
      totals: [["", total]],
    };
  }

  const read = await Promise.all(
    starts.map(async (ts) => {
      const values = await readBucket(ctx.store, style, place(ts));
      // Stores list values in their own order; answers must not depend on it.
      const kept: Record<string, number> = {};
      for (const v of Object.keys(values).sort())
        if (keep(v)) kept[v] = values[v]!;
      return { start: ts, label: label(ts, zone, by), values: kept };
    }),
  );
  const totals = new Map<string, number>();
  for (const b of read) {
    for (const [v, n] of Object.entries(b.values))
      totals.set(v, (totals.get(v) ?? 0) + n);
  }
  let ranked = [...totals].sort(
    (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  if (q.top !== undefined) ranked = ranked.slice(0, q.top);
  const chosen = new Set(ranked.map(([v]) => v));
  const result: BucketResult[] =
    by === "total"
      ? [{ start: from, label: "total", values: Object.fromEntries(ranked) }]
      : read.map((b) => ({
          ...b,
          values: Object.fromEntries(
            Object.entries(b.values).filter(([v]) => chosen.has(v)),
          ),
        }));
  return {
    metric: q.metric,
    pattern: canonical.name,
    by,
    from,
    to,
    buckets: result,
    totals: ranked,
  };
}

/**
 * Refuses a query that could only come back empty: a pattern the config
 * does not map for the metric, a sum of a property it does not sum, or
 * options that do not apply to the metric.
 */
function checkAsked(config: Config, q: QueryOptions, pattern: string): void {
  const m = config.mapping;
  const same = (p: string) => canonicalPattern(p).name === pattern;
  const metrics = ["bmp", "add", "adv", "top"];
  if (!metrics.includes(q.metric)) {
    throw new QueryError(
      `metric: expected one of ${metrics.join(", ")}, got ${JSON.stringify(q.metric)}`,
    );
  }
  if (q.metric === "adv") {
    const sums = m.addValue.filter((av) => same(av.key)).map((av) => av.addKey);
    if (sums.length === 0) {
      throw new QueryError(
        `pattern: ${JSON.stringify(pattern)} is not in mapping.addValue`,
      );
    }
    if (!q.addKey)
      throw new QueryError(
        `addKey: required for adv (configured: ${sums.join(", ")})`,
      );
    if (!sums.includes(q.addKey)) {
      throw new QueryError(
        `addKey: ${JSON.stringify(pattern)} sums ${sums.join(", ")}, not ${JSON.stringify(q.addKey)}`,
      );
    }
  } else {
    if (q.addKey !== undefined) throw new QueryError("addKey: only for adv");
    const list = { bmp: m.bitmap, add: m.add, top: m.top }[q.metric];
    if (!list.some(same)) {
      const field = { bmp: "bitmap", add: "add", top: "top" }[q.metric];
      throw new QueryError(
        `pattern: ${JSON.stringify(pattern)} is not in mapping.${field}`,
      );
    }
  }
  if (
    q.metric === "bmp" &&
    (q.top !== undefined || q.values || q.valuePrefix !== undefined)
  ) {
    throw new QueryError(
      "top, values, prefix: a unique count has no values to pick from",
    );
  }
  if (q.range && (q.from !== undefined || q.to !== undefined)) {
    throw new QueryError("range: give a named range or from and to, not both");
  }
  if (q.top !== undefined && !(Number.isInteger(q.top) && q.top >= 1)) {
    throw new QueryError(
      `top: expected a whole number of at least 1, got ${q.top}`,
    );
  }
}

/** The store's recorded layout, checked against the one asked for. */
async function layoutOf(ctx: QueryContext): Promise<Layout> {
  try {
    return (await resolveLayout(ctx.store, ctx.config.prefix, ctx.layout))
      .layout;
  } catch (e) {
    if (e instanceof LayoutMismatchError) throw new QueryError(e.message);
    throw e;
  }
}

/** Every value of one pattern in one bucket, with its count or sum. */
async function readBucket(
  store: StoreReader,
  style: KeyStyle,
  place: Place,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (place.metric === "top") {
    for (const [v, n] of await store.zscores(keyOf(style, place))) out[v] = n;
    return out;
  }
  if (style.layout === "hash") {
    for (const [v, n] of Object.entries(
      await store.hgetall(keyOf(style, place)),
    ))
      out[v] = Number(n);
    return out;
  }
  const members = await store.smembers(indexKeyOf(style, place));
  const counts = await store.mget(members.map((v) => keyOf(style, place, v)));
  members.forEach((v, i) => {
    const n = counts[i];
    if (n !== null && n !== undefined) out[v] = Number(n);
  });
  return out;
}

/** `[from, to)` in unix seconds. Dates are local days; `to` is inclusive. */
function resolveRange(
  q: QueryOptions,
  zone: string,
  clock: () => number,
): [number, number] {
  if (q.range) {
    const today = Temporal.Instant.fromEpochMilliseconds(clock())
      .toZonedDateTimeISO(zone)
      .toPlainDate();
    const day = (d: Temporal.PlainDate) => startOfDay(d, zone);
    switch (q.range) {
      case "today":
        return [day(today), day(today.add({ days: 1 }))];
      case "yesterday":
        return [day(today.subtract({ days: 1 })), day(today)];
      case "last-7-days":
        return [day(today.subtract({ days: 6 })), day(today.add({ days: 1 }))];
      case "last-30-days":
        return [day(today.subtract({ days: 29 })), day(today.add({ days: 1 }))];
      case "this-month": {
        const first = today.with({ day: 1 });
        return [day(first), day(first.add({ months: 1 }))];
      }
      case "last-month": {
        const first = today.with({ day: 1 });
        return [day(first.subtract({ months: 1 })), day(first)];
      }
      default:
        throw new QueryError(
          `range: unknown shortcut ${JSON.stringify(q.range)}`,
        );
    }
  }
  if (q.from === undefined || q.to === undefined) {
    throw new QueryError("from, to: both are needed unless a range is named");
  }
  const from = point(q.from, "from", zone, false);
  const to = point(q.to, "to", zone, true);
  if (to === from)
    throw new QueryError("to: the range is empty (it ends where it starts)");
  if (to < from) throw new QueryError("to: the range ends before it starts");
  return [from, to];
}

/** A date, RFC 3339 instant or unix seconds as a unix second. */
function point(
  v: string | number,
  name: string,
  zone: string,
  end: boolean,
): number {
  if (typeof v === "number" || /^-?\d+$/.test(v)) {
    const t = Number(v);
    if (!(t >= MIN_TIME && t <= MAX_TIME + 1)) {
      throw new QueryError(`${name}: ${v} is outside the years 1 to 2099`);
    }
    return t;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    let d: Temporal.PlainDate;
    try {
      d = Temporal.PlainDate.from(v, { overflow: "reject" });
    } catch {
      throw new QueryError(`${name}: ${JSON.stringify(v)} is not a date`);
    }
    return startOfDay(end ? d.add({ days: 1 }) : d, zone);
  }
  const t = parseRfc3339(v);
  if (t === null) {
    throw new QueryError(
      `${name}: expected YYYY-MM-DD, an RFC 3339 date-time or unix seconds, got ${JSON.stringify(v)}`,
    );
  }
  return t;
}

function startOfDay(d: Temporal.PlainDate, zone: string): number {
  return d.toZonedDateTime(zone).epochMilliseconds / 1000;
}

/** Where the bucket of `kind` that starts at `start` ends. */
function bucketEnd(buckets: Buckets, kind: BucketKind, start: number): number {
  // A local hour lasts at most 90 minutes and a day at most 27 hours.
  const next =
    kind === "h"
      ? hourStarts(buckets, start, start + 7200)[1]
      : dayStarts(buckets, start, start + 2 * 86400)[1];
  return next ?? Math.min(start + (kind === "h" ? 3600 : 86400), MAX_TIME + 1);
}

/** Starts of the local days that overlap `[from, to)`. */
export function dayStarts(
  buckets: Buckets,
  from: number,
  to: number,
): number[] {
  const out: number[] = [];
  for (let t = buckets.dayStart(from); t < to;) {
    out.push(t);
    // The next day starts within 27 hours; find it by stepping past this one.
    let next = t + 20 * 3600;
    while (buckets.dayStart(next) === t) next += 3600;
    t = buckets.dayStart(next);
  }
  return out;
}

/** Starts of the local hours that overlap `[from, to)`. */
export function hourStarts(
  buckets: Buckets,
  from: number,
  to: number,
): number[] {
  const out: number[] = [];
  let last = Number.NaN;
  // Offsets move in steps of 15 minutes, so no hour is shorter than that.
  for (let t = buckets.hourStart(from); t < to; t += 900) {
    const h = buckets.hourStart(t);
    if (h !== last) out.push((last = h));
  }
  return out;
}

function label(ts: number, zone: string, by: Granularity): string {
  if (by === "total") return "total";
  const local = Temporal.Instant.fromEpochMilliseconds(
    ts * 1000,
  ).toZonedDateTimeISO(zone);
  const date = local.toPlainDate().toString();
  if (by === "day") return date;
  return `${date}T${String(local.hour).padStart(2, "0")}:${String(local.minute).padStart(2, "0")}${local.offset}`;
}
