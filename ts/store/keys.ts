/**
 * Store keys, one function for writers and readers alike, so a query
 * always looks where ingest wrote.
 *
 * Flat layout keeps the spec's keys; hash layout folds the values into a
 * hash field. Next to flat `add` and `adv` counters an index set lists
 * the values of each pattern and bucket, so reads never scan the
 * keyspace. On a Cluster the pattern segment is a hash tag (`{event}`):
 * every bucket of one metric and pattern then shares a slot.
 */
import { ConfigError } from "../config.js";
import type { Layout } from "./types.js";

/** The metric types of the spec's section 4. */
export type Metric = "bmp" | "add" | "adv" | "top";

/** A bucket kind: `d` for days, `h` for hours. */
export type BucketKind = "d" | "h";

/** Where one metric, pattern and bucket lives. */
export interface Place {
  metric: Metric;
  bucket: BucketKind;
  ts: number;
  pattern: string;
  /** Only for `adv`. */
  addKey?: string;
}

/** How keys are spelled for one store and config. */
export interface KeyStyle {
  /** The config's prefix, without its `:`. */
  prefix: string;
  layout: Layout;
  /** Whether to wrap the pattern in a Cluster hash tag. */
  tagged: boolean;
}

/** The hash tag that groups all keys of one pattern, or "" untagged. */
export function tagOf(style: KeyStyle, place: Place): string {
  return style.tagged ? place.pattern : "";
}

function base(style: KeyStyle, kind: string, p: Place): string {
  const pre = style.prefix === "" ? "" : style.prefix + ":";
  const pattern = style.tagged ? `{${p.pattern}}` : p.pattern;
  const addKey = p.metric === "adv" ? `${p.addKey}:` : "";
  return `${pre}${kind}:${p.bucket}:${p.ts}:${addKey}${pattern}`;
}

/**
 * The key holding `place`: the HyperLogLog, sorted set or hash itself,
 * or, for flat counters, the key of one `value`.
 */
export function keyOf(style: KeyStyle, place: Place, value?: string): string {
  const k = base(style, place.metric, place);
  const perValue =
    style.layout === "flat" &&
    (place.metric === "add" || place.metric === "adv");
  return perValue ? `${k}:${value ?? ""}` : k;
}

/** The set listing the values of a flat counter's pattern and bucket. */
export function indexKeyOf(style: KeyStyle, place: Place): string {
  return base(style, `idx:${place.metric}`, place);
}

/** The marker that says a batch's group landed; it shares the group's slot. */
export function markerKey(
  style: KeyStyle,
  batchId: string,
  tag: string,
): string {
  const pre = style.prefix === "" ? "" : style.prefix + ":";
  return style.tagged
    ? `${pre}traqq:batch:{${tag}}:${batchId}`
    : `${pre}traqq:batch:${batchId}`;
}

/**
 * Reads a key the engines wrote (`[prefix:]type:b:ts:[addKey:]pattern[:values]`)
 * back into its place and value.
 */
export function parseEngineKey(
  prefix: string,
  key: string,
): { place: Place; value?: string } {
  const rest = prefix === "" ? key : key.slice(prefix.length + 1);
  const parts = rest.split(":");
  const metric = parts[0] as Metric;
  const place: Place = {
    metric,
    bucket: parts[1] as BucketKind,
    ts: Number(parts[2]),
    pattern: "",
  };
  let i = 3;
  if (metric === "adv") place.addKey = parts[i++];
  place.pattern = parts[i++]!;
  const value = i < parts.length ? parts[i] : undefined;
  return { place, value };
}

/** The key that records which layout a prefix's counters use. */
export function layoutKey(style: Omit<KeyStyle, "layout">): string {
  const pre = style.prefix === "" ? "" : style.prefix + ":";
  return style.tagged ? `${pre}{traqq}:layout` : `${pre}traqq:layout`;
}

/**
 * On a Cluster the pattern is the key's hash tag, so a `{` or `}` in it
 * (or in the prefix, which comes first) would move keys to other slots.
 * Throws with the field that holds one.
 */
export function checkTaggable(
  prefix: string,
  patterns: Iterable<[string, string]>,
): void {
  if (/[{}]/.test(prefix)) {
    throw new ConfigError(
      `prefix: "{" and "}" cannot be used with a Redis Cluster (they mark hash tags)`,
    );
  }
  for (const [field, pattern] of patterns) {
    if (/[{}]/.test(pattern)) {
      throw new ConfigError(
        `${field}: pattern ${JSON.stringify(pattern)}: "{" and "}" cannot be used with a Redis Cluster (they mark hash tags)`,
      );
    }
  }
}
