/**
 * Public types of traqq. The config shape is fixed by the product spec
 * (camelCase, in TypeScript and in JSON files alike).
 */

/** Time settings: which zone the day and hour buckets follow. */
export interface TimeConfig {
  /** IANA zone name, e.g. `UTC` or `America/New_York`. */
  timezone: string;
  /** Also write hour buckets (`h`) next to day buckets (`d`). */
  storeHourly: boolean;
  /** Property holding the event time; `null` uses the processing time. */
  eventTimeField: string | null;
  /** Unit of a numeric event time: unix seconds or milliseconds. */
  eventTimeUnit: "s" | "ms";
}

/** A sum of the numeric property `addKey`, per value of pattern `key`. */
export interface AddValueMapping {
  key: string;
  addKey: string;
}

/** Which metrics each event feeds. Patterns join property names by `~`. */
export interface MappingConfig {
  bitmap: string[];
  add: string[];
  addValue: AddValueMapping[];
  top: string[];
}

/** Guards against events that would explode into too many commands. */
export interface LimitsConfig {
  maxFieldLength: number;
  maxValueLength: number;
  maxCombinations: number;
  maxMetricsPerEvent: number;
}

/** A complete config, every default filled in. */
export interface Config {
  prefix: string;
  time: TimeConfig;
  mapping: MappingConfig;
  limits: LimitsConfig;
}

/** What a user writes: any field may be left out and takes its default. */
export interface ConfigInput {
  prefix?: string;
  time?: Partial<TimeConfig>;
  mapping?: Partial<MappingConfig>;
  limits?: Partial<LimitsConfig>;
}

/** The two implementations of the hot path; they agree byte for byte. */
export type EngineName = "wasm" | "ts";

/** One Redis command: the command name, then its arguments. */
export type Command = string[];

/** What became of one event. */
export type EventResult =
  { ok: true; commands: Command[] } | { ok: false; error: string };

/** Milliseconds since the unix epoch, like `Date.now`. */
export type Clock = () => number;
