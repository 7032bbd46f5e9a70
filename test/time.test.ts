/**
 * Time buckets (SPEC section 3) and the event time (docs/semantics.md
 * "Event time"). Expected buckets are written as the local instants the
 * spec describes, e.g. `at("2024-11-03T00:00:00-04:00")`.
 */
import { describe, expect, it } from "vitest";
import type { ConfigInput, EngineName } from "../ts/types.js";
import { ENGINES, cmd, ok, rejected, runRaw } from "./helpers.js";

/** Unix seconds of an RFC 3339 instant. */
function at(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant in the test: ${iso}`);
  return ms / 1000;
}

/** The day and hour commands of `{"event":"e"}` at these buckets. */
const buckets = (d: number, h: number) =>
  ok(cmd.incr(`add:d:${d}:event:e`), cmd.incr(`add:h:${h}:event:e`));

/** [zone, event (unix s), d, h]. */
const bucketRows: [string, number, number, number][] = [
  // The spec's table, as printed.
  ["America/New_York", 1730611800, 1730606400, 1730610000],
  ["America/New_York", 1730615400, 1730606400, 1730613600],
  ["Asia/Kolkata", 1730572200, 1730572200, 1730572200],
  ["Asia/Kolkata", 1730572200 + 1, 1730572200, 1730572200],
  ["Asia/Kolkata", 1730572200 + 43200 + 17, 1730572200, 1730572200 + 43200],
  ["Asia/Kolkata", 1730572200 + 86399, 1730572200, 1730572200 + 82800],
  ["Asia/Kathmandu", 1730571300, 1730571300, 1730571300],
  ["Asia/Kathmandu", 1730571300 + 3599, 1730571300, 1730571300],
  ["Asia/Kathmandu", 1730571300 + 3600, 1730571300, 1730571300 + 3600],
  ["Asia/Kathmandu", 1730571300 + 86399, 1730571300, 1730571300 + 82800],
  ["America/Havana", 1710050000, 1710046800, 1710046800],
  // UTC, and instants before 1970.
  ["UTC", 1696118400, 1696118400, 1696118400],
  ["UTC", 1696118400 + 3661, 1696118400, 1696118400 + 3600],
  ["UTC", 0, 0, 0],
  ["UTC", -1, -86400, -3600],
  ["UTC", -86400, -86400, -86400],
  ["UTC", -86401, -172800, -90000],
  // New York, fall back (2024-11-03 lasts 25 hours).
  [
    "America/New_York",
    at("2024-11-03T00:59:59-04:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T00:00:00-04:00"),
  ],
  [
    "America/New_York",
    at("2024-11-03T01:59:59-04:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T01:00:00-04:00"),
  ],
  [
    "America/New_York",
    at("2024-11-03T01:00:00-05:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T01:00:00-05:00"),
  ],
  [
    "America/New_York",
    at("2024-11-03T23:59:59-05:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T23:00:00-05:00"),
  ],
  [
    "America/New_York",
    at("2024-11-04T00:00:00-05:00"),
    at("2024-11-04T00:00:00-05:00"),
    at("2024-11-04T00:00:00-05:00"),
  ],
  // New York, spring forward (2024-03-10 lasts 23 hours; 02:00 is 03:00).
  [
    "America/New_York",
    at("2024-03-10T01:59:59-05:00"),
    at("2024-03-10T00:00:00-05:00"),
    at("2024-03-10T01:00:00-05:00"),
  ],
  [
    "America/New_York",
    at("2024-03-10T03:00:00-04:00"),
    at("2024-03-10T00:00:00-05:00"),
    at("2024-03-10T03:00:00-04:00"),
  ],
  [
    "America/New_York",
    at("2024-03-10T23:59:59-04:00"),
    at("2024-03-10T00:00:00-05:00"),
    at("2024-03-10T23:00:00-04:00"),
  ],
  [
    "America/New_York",
    at("2024-03-11T00:00:00-04:00"),
    at("2024-03-11T00:00:00-04:00"),
    at("2024-03-11T00:00:00-04:00"),
  ],
  // Europe/London, fall back at 02:00 BST.
  [
    "Europe/London",
    at("2024-10-27T01:59:59+01:00"),
    at("2024-10-27T00:00:00+01:00"),
    at("2024-10-27T01:00:00+01:00"),
  ],
  [
    "Europe/London",
    at("2024-10-27T01:00:00+00:00"),
    at("2024-10-27T00:00:00+01:00"),
    at("2024-10-27T01:00:00+00:00"),
  ],
  [
    "Europe/London",
    at("2024-10-27T23:30:00+00:00"),
    at("2024-10-27T00:00:00+01:00"),
    at("2024-10-27T23:00:00+00:00"),
  ],
  [
    "Europe/London",
    at("2024-10-28T00:00:00+00:00"),
    at("2024-10-28T00:00:00+00:00"),
    at("2024-10-28T00:00:00+00:00"),
  ],
  // Havana springs forward at midnight: 2024-03-10 starts at 01:00.
  [
    "America/Havana",
    at("2024-03-09T23:59:59-05:00"),
    at("2024-03-09T00:00:00-05:00"),
    at("2024-03-09T23:00:00-05:00"),
  ],
  [
    "America/Havana",
    at("2024-03-10T01:00:00-04:00"),
    at("2024-03-10T01:00:00-04:00"),
    at("2024-03-10T01:00:00-04:00"),
  ],
  [
    "America/Havana",
    at("2024-03-10T23:59:59-04:00"),
    at("2024-03-10T01:00:00-04:00"),
    at("2024-03-10T23:00:00-04:00"),
  ],
  // Havana falls back at 01:00 to 00:00: midnight happens twice, the day
  // starts at the first one, and the two 00:00 hours are two buckets.
  [
    "America/Havana",
    at("2024-11-03T00:59:59-04:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T00:00:00-04:00"),
  ],
  [
    "America/Havana",
    at("2024-11-03T00:00:00-05:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T00:00:00-05:00"),
  ],
  [
    "America/Havana",
    at("2024-11-03T00:30:00-05:00"),
    at("2024-11-03T00:00:00-04:00"),
    at("2024-11-03T00:00:00-05:00"),
  ],
  // Kathmandu moved from +05:30 to +05:45 at midnight on 1986-01-01: the
  // day starts at 00:15, its hours still start at hh:00 local.
  [
    "Asia/Kathmandu",
    at("1986-01-01T00:20:00+05:45"),
    at("1986-01-01T00:15:00+05:45"),
    at("1986-01-01T00:15:00+05:45"),
  ],
  [
    "Asia/Kathmandu",
    at("1986-01-01T12:04:00+05:45"),
    at("1986-01-01T00:15:00+05:45"),
    at("1986-01-01T12:00:00+05:45"),
  ],
  // Chatham left its local mean time (+12:13:48) for +12:15 at midnight
  // on 1868-11-02: a 72-second gap.
  [
    "Pacific/Chatham",
    at("1868-11-02T16:17:00+12:15"),
    at("1868-11-02T00:01:12+12:15"),
    at("1868-11-02T16:00:00+12:15"),
  ],
  // The zones' rules have no end year: DST goes on to the end of the
  // range, 2099-12-31T23:59:59Z (docs/semantics.md).
  [
    "America/New_York",
    at("2099-07-04T12:30:00-04:00"),
    at("2099-07-04T00:00:00-04:00"),
    at("2099-07-04T12:00:00-04:00"),
  ],
  [
    "Australia/Lord_Howe",
    at("2099-01-15T12:40:00+11:00"),
    at("2099-01-15T00:00:00+11:00"),
    at("2099-01-15T12:00:00+11:00"),
  ],
  [
    "Europe/London",
    at("2099-06-01T00:30:00+01:00"),
    at("2099-06-01T00:00:00+01:00"),
    at("2099-06-01T00:00:00+01:00"),
  ],
  [
    "America/New_York",
    at("2099-12-31T18:59:59-05:00"),
    at("2099-12-31T00:00:00-05:00"),
    at("2099-12-31T18:00:00-05:00"),
  ],
  // :30 and :45 zones outside any change.
  [
    "Australia/Lord_Howe",
    at("2024-01-15T12:40:00+11:00"),
    at("2024-01-15T00:00:00+11:00"),
    at("2024-01-15T12:00:00+11:00"),
  ],
  [
    "Australia/Lord_Howe",
    at("2024-06-01T12:40:00+10:30"),
    at("2024-06-01T00:00:00+10:30"),
    at("2024-06-01T12:00:00+10:30"),
  ],
  [
    "Pacific/Chatham",
    at("2024-06-01T12:40:00+12:45"),
    at("2024-06-01T00:00:00+12:45"),
    at("2024-06-01T12:00:00+12:45"),
  ],
  [
    "Pacific/Chatham",
    at("2024-12-01T00:10:00+13:45"),
    at("2024-12-01T00:00:00+13:45"),
    at("2024-12-01T00:00:00+13:45"),
  ],
];

const NY: ConfigInput["time"] = {
  timezone: "America/New_York",
  storeHourly: true,
  eventTimeField: "ts",
};
/** The spec's first New York row, and its second (same wall time, EST). */
const EDT = buckets(1730606400, 1730610000);
const EST = buckets(1730606400, 1730613600);

/** A clock well away from every event time used below. */
const NOW = at("2030-06-15T12:34:56Z") * 1000 + 789;
const AT_NOW = buckets(
  at("2030-06-15T00:00:00-04:00"),
  at("2030-06-15T08:00:00-04:00"),
);

const notNumber = "event time 'ts' must be a number or an RFC 3339 string";
const notRfc = (v: string) =>
  `event time 'ts' is not an RFC 3339 date-time: ${JSON.stringify(v)}`;
const outOfRange = "event time 'ts' is out of range";

/** [name, unit, ts as JSON text, expected record] in New York. */
const eventTimeCases: [string, "s" | "ms", string, string][] = [
  ["seconds", "s", "1730611800", EDT],
  ["seconds, the EST hour", "s", "1730615400", EST],
  ["seconds with a fraction are floored", "s", "1730611800.999", EDT],
  ["seconds as a float literal", "s", "1.7306118e9", EDT],
  ["milliseconds", "ms", "1730611800000", EDT],
  ["milliseconds floored to the second", "ms", "1730611800999", EDT],
  ["milliseconds with a fraction", "ms", "1730611800999.9", EDT],
  ["milliseconds as a float literal", "ms", "1.7306118e12", EDT],
  ["the spec's RFC 3339 example", "s", '"2024-11-03T01:30:00-04:00"', EDT],
  ["RFC 3339, the EST hour", "s", '"2024-11-03T01:30:00-05:00"', EST],
  ["RFC 3339 in UTC", "s", '"2024-11-03T05:30:00Z"', EDT],
  ["RFC 3339 with +00:00", "s", '"2024-11-03T05:30:00+00:00"', EDT],
  ["RFC 3339 with a :45 offset", "s", '"2024-11-03T11:15:00+05:45"', EDT],
  ["lower-case t and z", "s", '"2024-11-03t05:30:00z"', EDT],
  [
    "a fraction does not move the bucket",
    "s",
    '"2024-11-03T05:59:59.999999999Z"',
    EDT,
  ],
  ["a leap second counts as :59", "s", '"2024-11-03T05:59:60Z"', EDT],
  ["RFC 3339 with the ms unit", "ms", '"2024-11-03T01:30:00-04:00"', EDT],
  ["white space trimmed", "s", '" 2024-11-03T05:30:00Z\\t"', EDT],
  ["U+0085 trimmed", "s", '"\\u00852024-11-03T05:30:00Z"', EDT],
  ["null: the processing time", "s", "null", AT_NOW],
  ["an array: the processing time", "s", "[1730611800]", AT_NOW],
  ["an overflowing literal: the processing time", "s", "1e400", AT_NOW],
  ["true", "s", "true", rejected(notNumber)],
  ["false", "ms", "false", rejected(notNumber)],
  ["an empty object", "s", "{}", rejected(notNumber)],
  ["an object", "s", '{"x":1730611800}', rejected(notNumber)],
  [
    "a space instead of T",
    "s",
    '"2024-11-03 05:30:00Z"',
    rejected(notRfc("2024-11-03 05:30:00Z")),
  ],
  [
    "no offset",
    "s",
    '"2024-11-03T05:30:00"',
    rejected(notRfc("2024-11-03T05:30:00")),
  ],
  ["a date only", "s", '"2024-11-03"', rejected(notRfc("2024-11-03"))],
  [
    "no seconds",
    "s",
    '"2024-11-03T05:30Z"',
    rejected(notRfc("2024-11-03T05:30Z")),
  ],
  [
    "an offset without a colon",
    "s",
    '"2024-11-03T11:00:00+0530"',
    rejected(notRfc("2024-11-03T11:00:00+0530")),
  ],
  [
    "February 30",
    "s",
    '"2024-02-30T00:00:00Z"',
    rejected(notRfc("2024-02-30T00:00:00Z")),
  ],
  [
    "hour 24",
    "s",
    '"2024-11-03T24:00:00Z"',
    rejected(notRfc("2024-11-03T24:00:00Z")),
  ],
  [
    "a five-digit year",
    "s",
    '"10000-01-01T00:00:00Z"',
    rejected(notRfc("10000-01-01T00:00:00Z")),
  ],
  ["a number in a string", "s", '"1730611800"', rejected(notRfc("1730611800"))],
  ["a word", "s", '"yesterday"', rejected(notRfc("yesterday"))],
  ["a quote in the value", "s", '"ab\\"c"', rejected(notRfc('ab"c'))],
  [
    "a lone surrogate in the value",
    "s",
    '"\\ud800x"',
    rejected(notRfc("\ufffdx")),
  ],
  ["an integer beyond 2^53", "s", "99999999999999999999", rejected(outOfRange)],
  ["a huge negative float", "s", "-1e20", rejected(outOfRange)],
  ["the first second of 2100", "s", "4102444800", rejected(outOfRange)],
];

/**
 * [name, unit, ts as JSON text, expected record] in UTC. The range is
 * 0001-01-01T00:00:00Z to 2099-12-31T23:59:59Z (docs/semantics.md).
 */
const END = at("2099-12-31T23:59:59Z");
const END_DAY = at("2099-12-31T00:00:00Z");
const END_HOUR = at("2099-12-31T23:00:00Z");
const START = at("0001-01-01T00:00:00Z");
const rangeCases: [string, "s" | "ms", string, string][] = [
  ["the last second of 2099", "s", `${END}`, buckets(END_DAY, END_HOUR)],
  ["the first second of 2100", "s", `${END + 1}`, rejected(outOfRange)],
  [
    "the last millisecond of 2099",
    "ms",
    `${END * 1000 + 999}`,
    buckets(END_DAY, END_HOUR),
  ],
  [
    "the first millisecond of 2100",
    "ms",
    `${(END + 1) * 1000}`,
    rejected(outOfRange),
  ],
  ["the end of 9999", "s", "253402300799", rejected(outOfRange)],
  ["the first second of year 1", "s", `${START}`, buckets(START, START)],
  ["a second before year 1", "s", `${START - 1}`, rejected(outOfRange)],
  ["half a second before year 1", "s", `${START}.5`, rejected(outOfRange)],
  [
    "a millisecond before year 1",
    "ms",
    `${START * 1000 - 1}`,
    rejected(outOfRange),
  ],
  ["a negative fraction is floored", "s", "-0.5", buckets(-86400, -3600)],
  ["a negative millisecond", "ms", "-1", buckets(-86400, -3600)],
  [
    "RFC 3339 at the end of 2099",
    "s",
    '"2099-12-31T23:59:59Z"',
    buckets(END_DAY, END_HOUR),
  ],
  [
    "RFC 3339 past 2099 by its offset",
    "s",
    '"2099-12-31T23:59:59-00:01"',
    rejected(outOfRange),
  ],
  ["RFC 3339 in 2100", "s", '"2100-01-01T00:00:00Z"', rejected(outOfRange)],
  [
    "RFC 3339 at the end of 9999",
    "s",
    '"9999-12-31T23:59:59Z"',
    rejected(outOfRange),
  ],
  [
    "RFC 3339 at the start of year 1",
    "s",
    '"0001-01-01T00:00:00Z"',
    buckets(START, START),
  ],
  [
    "RFC 3339 before year 1 by its offset",
    "s",
    '"0001-01-01T00:00:00+00:01"',
    rejected(outOfRange),
  ],
  ["RFC 3339 in year 0", "s", '"0000-12-31T23:59:59Z"', rejected(outOfRange)],
];

function runAt(
  engine: EngineName,
  time: ConfigInput["time"],
  line: string,
  nowMs: number,
  limits: ConfigInput["limits"] = {},
): string {
  return runRaw(engine, { time, limits }, line, nowMs);
}

describe.each(ENGINES)("time buckets, %s engine", (engine) => {
  it.each(bucketRows)("%s at %i", (timezone, t, d, h) => {
    const time = { timezone, storeHourly: true };
    expect(runAt(engine, time, '{"event":"e"}', t * 1000)).toBe(buckets(d, h));
  });

  it.each(bucketRows)("%s at %i, as the event time", (timezone, t, d, h) => {
    const time = { timezone, storeHourly: true, eventTimeField: "ts" };
    expect(runAt(engine, time, `{"event":"e","ts":${t}}`, NOW)).toBe(
      buckets(d, h),
    );
  });

  it("without storeHourly only the day bucket", () => {
    const time = { timezone: "Asia/Kathmandu" };
    expect(runAt(engine, time, '{"event":"e"}', 1730600000 * 1000)).toBe(
      ok(cmd.incr("add:d:1730571300:event:e")),
    );
  });

  it("the processing time is floored to the second", () => {
    const time = { timezone: "America/New_York", storeHourly: true };
    const line = '{"event":"e"}';
    expect(runAt(engine, time, line, 1730611800999)).toBe(EDT);
    expect(runAt(engine, time, line, 1730613599999)).toBe(EDT);
    expect(runAt(engine, time, line, 1730613600000)).toBe(EST);
  });

  it("a negative processing time is floored too", () => {
    const time = { timezone: "UTC", storeHourly: true };
    expect(runAt(engine, time, '{"event":"e"}', -1)).toBe(
      buckets(-86400, -3600),
    );
  });
});

describe.each(ENGINES)("event time, %s engine", (engine) => {
  it.each(eventTimeCases)("%s", (_name, unit, ts, record) => {
    const time = { ...NY, eventTimeUnit: unit };
    expect(runAt(engine, time, `{"event":"e","ts":${ts}}`, NOW)).toBe(record);
  });

  it.each(rangeCases)("%s", (_name, unit, ts, record) => {
    const time = {
      timezone: "UTC",
      storeHourly: true,
      eventTimeField: "ts",
      eventTimeUnit: unit,
    };
    expect(runAt(engine, time, `{"event":"e","ts":${ts}}`, NOW)).toBe(record);
  });

  it("a missing event time falls back to the processing time", () => {
    expect(runAt(engine, NY, '{"event":"e"}', NOW)).toBe(AT_NOW);
  });

  it("a nested event time field", () => {
    const time = { ...NY, eventTimeField: "meta.ts" };
    const line = '{"event":"e","meta":{"ts":"2024-11-03T01:30:00-05:00"}}';
    expect(runAt(engine, time, line, NOW)).toBe(EST);
  });

  it("the last event time wins", () => {
    const line = '{"event":"e","ts":1730611800,"ts":1730615400}';
    expect(runAt(engine, NY, line, NOW)).toBe(EST);
  });

  it("the value in a rejection is cut to maxValueLength code points", () => {
    const line = '{"event":"e","ts":"😀esterday"}';
    expect(runAt(engine, NY, line, NOW, { maxValueLength: 5 })).toBe(
      rejected(notRfc("😀este")),
    );
  });

  it("a bad event time does not disturb the next event", () => {
    const ndjson = '{"event":"e","ts":true}\n{"event":"e","ts":1730611800}';
    expect(runAt(engine, NY, ndjson, NOW)).toBe(rejected(notNumber) + EDT);
  });

  it("the event time is read though no pattern names it", () => {
    const time = { ...NY, storeHourly: false };
    const raw = runRaw(
      engine,
      { time, mapping: { add: ["event~x"] } },
      '{"event":"e","x":"1","ts":1730615400}',
      NOW,
    );
    expect(raw).toBe(ok(cmd.incr("add:d:1730606400:event~x:e~1")));
  });
});
