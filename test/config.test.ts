/**
 * Config resolution and validation (SPEC section 1, docs/semantics.md
 * "Config"), through `createEngineSync` with each engine.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../ts/node.js";
import type { Config, ConfigInput } from "../ts/types.js";
import { ENGINES, makeEngine } from "./helpers.js";

/** The resolved config of `{}`, written out from SPEC section 1. */
function defaults(): Config {
  return {
    prefix: "",
    time: {
      timezone: "UTC",
      storeHourly: false,
      eventTimeField: null,
      eventTimeUnit: "s",
    },
    mapping: { bitmap: [], add: ["event"], addValue: [], top: [] },
    limits: {
      maxFieldLength: 128,
      maxValueLength: 512,
      maxCombinations: 1000,
      maxMetricsPerEvent: 1000,
    },
  };
}

type Patch = {
  prefix?: string;
  time?: Partial<Config["time"]>;
  mapping?: Partial<Config["mapping"]>;
  limits?: Partial<Config["limits"]>;
};

/** The defaults with some fields replaced. */
function resolved(patch: Patch): Config {
  const d = defaults();
  return {
    prefix: patch.prefix ?? d.prefix,
    time: { ...d.time, ...patch.time },
    mapping: { ...d.mapping, ...patch.mapping },
    limits: { ...d.limits, ...patch.limits },
  };
}

const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

const valid: [string, unknown, Config][] = [
  ["empty config takes every default", {}, defaults()],
  [
    "empty sections take their defaults",
    { time: {}, mapping: {}, limits: {} },
    defaults(),
  ],
  [
    "only mapping.bitmap still has add: [event]",
    { mapping: { bitmap: ["ip"] } },
    resolved({ mapping: { bitmap: ["ip"] } }),
  ],
  [
    "only mapping.top still has add: [event]",
    { mapping: { top: ["utm_campaign"] } },
    resolved({ mapping: { top: ["utm_campaign"] } }),
  ],
  [
    "explicit empty add means no add pattern",
    { mapping: { add: [] } },
    resolved({ mapping: { add: [] } }),
  ],
  [
    "explicit empty lists everywhere",
    { mapping: { bitmap: [], add: [], addValue: [], top: [] } },
    resolved({ mapping: { add: [] } }),
  ],
  [
    "the spec's example config",
    {
      prefix: "",
      time: {
        timezone: "UTC",
        storeHourly: false,
        eventTimeField: null,
        eventTimeUnit: "s",
      },
      mapping: {
        bitmap: ["ip"],
        add: ["event", "event~utm_source"],
        addValue: [{ key: "event~utm_source", addKey: "amount" }],
        top: ["utm_campaign"],
      },
      limits: {
        maxFieldLength: 128,
        maxValueLength: 512,
        maxCombinations: 1000,
        maxMetricsPerEvent: 1000,
      },
    },
    resolved({
      mapping: {
        bitmap: ["ip"],
        add: ["event", "event~utm_source"],
        addValue: [{ key: "event~utm_source", addKey: "amount" }],
        top: ["utm_campaign"],
      },
    }),
  ],
  [
    "time fields left out take their defaults",
    { time: { timezone: "America/New_York" } },
    resolved({ time: { timezone: "America/New_York" } }),
  ],
  [
    "event time field in milliseconds, hourly buckets",
    { time: { storeHourly: true, eventTimeField: "ts", eventTimeUnit: "ms" } },
    resolved({
      time: { storeHourly: true, eventTimeField: "ts", eventTimeUnit: "ms" },
    }),
  ],
  [
    "limits left out take their defaults",
    { limits: { maxValueLength: 1 } },
    resolved({ limits: { maxValueLength: 1 } }),
  ],
  [
    "all limits at their minimum of 1",
    {
      mapping: { add: ["event"] },
      limits: {
        maxFieldLength: 1,
        maxValueLength: 1,
        maxCombinations: 1,
        maxMetricsPerEvent: 1,
      },
    },
    resolved({
      limits: {
        maxFieldLength: 1,
        maxValueLength: 1,
        maxCombinations: 1,
        maxMetricsPerEvent: 1,
      },
    }),
  ],
  ["a prefix", { prefix: "app" }, resolved({ prefix: "app" })],
  [
    "a prefix may hold ':' (only white space and controls are barred)",
    { prefix: "app:v1" },
    resolved({ prefix: "app:v1" }),
  ],
  ...["UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"].map(
    (tz): [string, unknown, Config] => [
      `IANA zone ${tz}`,
      { time: { timezone: tz } },
      resolved({ time: { timezone: tz } }),
    ],
  ),
  [
    "the same pattern in every type is fine",
    {
      mapping: {
        bitmap: ["event"],
        add: ["event"],
        addValue: [{ key: "event", addKey: "amount" }],
        top: ["event"],
      },
    },
    resolved({
      mapping: {
        bitmap: ["event"],
        add: ["event"],
        addValue: [{ key: "event", addKey: "amount" }],
        top: ["event"],
      },
    }),
  ],
  [
    "addValue entries differing only in addKey",
    {
      mapping: {
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "event", addKey: "price" },
        ],
      },
    },
    resolved({
      mapping: {
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "event", addKey: "price" },
        ],
      },
    }),
  ],
  [
    "addValue entries differing only in key",
    {
      mapping: {
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "event~utm_source", addKey: "amount" },
        ],
      },
    },
    resolved({
      mapping: {
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "event~utm_source", addKey: "amount" },
        ],
      },
    }),
  ],
  [
    "dotted and non-ASCII property names",
    { mapping: { add: ["device.type", "event~é~😀", "a.b.c~x"] } },
    resolved({ mapping: { add: ["device.type", "event~é~😀", "a.b.c~x"] } }),
  ],
  [
    "total patterns equal to maxCombinations",
    {
      mapping: { bitmap: ["ip"], add: ["event"], top: ["x"] },
      limits: { maxCombinations: 3 },
    },
    resolved({
      mapping: { bitmap: ["ip"], add: ["event"], top: ["x"] },
      limits: { maxCombinations: 3 },
    }),
  ],
  [
    "1000 patterns under the default maxCombinations",
    { mapping: { add: many(1000) } },
    resolved({ mapping: { add: many(1000) } }),
  ],
];

/**
 * How an error must read. `path` is the field path the message starts
 * with (several are allowed where the spec leaves the choice open, e.g.
 * the unknown key itself or the object holding it); `has` are texts the
 * message must contain; `exact` is the whole message.
 */
type Expect = { exact: string } | { path: string | string[]; has?: string[] };

const invalid: [string, unknown, Expect][] = [
  // The spec's own example, to the letter.
  [
    "the spec's example: empty part",
    { mapping: { add: ["event", "event~utm_source", "event~~geo"] } },
    { exact: 'mapping.add[2]: pattern "event~~geo" has an empty part' },
  ],
  // time.timezone
  ...["Mars/Olympus", "utc", "america/new_york", "", "New York"].map(
    (tz): [string, unknown, Expect] => [
      `timezone ${JSON.stringify(tz)} is not an IANA zone`,
      { time: { timezone: tz } },
      { path: "time.timezone" },
    ],
  ),
  [
    "timezone not a string",
    { time: { timezone: 5 } },
    { path: "time.timezone" },
  ],
  // pattern syntax
  ["empty pattern", { mapping: { add: [""] } }, { path: "mapping.add[0]" }],
  [
    "leading ~",
    { mapping: { add: ["~event"] } },
    { path: "mapping.add[0]", has: ["empty"] },
  ],
  [
    "trailing ~",
    { mapping: { add: ["event~"] } },
    { path: "mapping.add[0]", has: ["empty"] },
  ],
  [
    "':' in a name",
    { mapping: { add: ["ev:ent"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "space in a name",
    { mapping: { add: ["event~utm source"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "leading space",
    { mapping: { add: [" event"] } },
    { path: "mapping.add[0]" },
  ],
  ["tab in a name", { mapping: { add: ["a\tb"] } }, { path: "mapping.add[0]" }],
  [
    "newline in a name",
    { mapping: { add: ["a\nb"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "NUL in a name",
    { mapping: { add: ["a\u0000b"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "DEL in a name",
    { mapping: { add: ["a\u007fb"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "U+009F in a name",
    { mapping: { add: ["a\u009fb"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "U+0085 in a name",
    { mapping: { add: ["a\u0085b"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "U+00A0 (white space) in a name",
    { mapping: { add: ["a\u00a0b"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "U+3000 (white space) in a name",
    { mapping: { add: ["a\u3000b"] } },
    { path: "mapping.add[0]" },
  ],
  [
    "event~event",
    { mapping: { add: ["event~event"] } },
    { path: "mapping.add[0]", has: ["event"] },
  ],
  [
    "a~b~a",
    { mapping: { add: ["event", "a~b~a"] } },
    { path: "mapping.add[1]" },
  ],
  [
    "bad pattern in bitmap",
    { mapping: { bitmap: ["ip", "ip~~ua"] } },
    { path: "mapping.bitmap[1]", has: ["empty"] },
  ],
  [
    "bad pattern in top",
    { mapping: { top: ["x:y"] } },
    { path: "mapping.top[0]" },
  ],
  [
    "bad addValue key",
    { mapping: { addValue: [{ key: "event~~x", addKey: "amount" }] } },
    { path: "mapping.addValue[0].key", has: ["empty"] },
  ],
  [
    "addKey with ~",
    { mapping: { addValue: [{ key: "event", addKey: "a~b" }] } },
    { path: "mapping.addValue[0].addKey" },
  ],
  [
    "addKey with ':'",
    { mapping: { addValue: [{ key: "event", addKey: "a:b" }] } },
    { path: "mapping.addValue[0].addKey" },
  ],
  [
    "empty addKey",
    { mapping: { addValue: [{ key: "event", addKey: "" }] } },
    { path: "mapping.addValue[0].addKey" },
  ],
  // uniqueness
  [
    "duplicate add pattern",
    { mapping: { add: ["event", "x", "event"] } },
    { path: "mapping.add[2]" },
  ],
  [
    "duplicate bitmap pattern",
    { mapping: { bitmap: ["ip", "ip"] } },
    { path: "mapping.bitmap[1]" },
  ],
  [
    "duplicate top pattern",
    { mapping: { top: ["x", "x"] } },
    { path: "mapping.top[1]" },
  ],
  // `b~a` is the pattern `a~b` (names are sorted, SPEC section 4): both
  // would write the same keys, so they are one pattern given twice.
  [
    "same names in another order",
    { mapping: { add: ["a~b", "b~a"] } },
    { path: "mapping.add[1]" },
  ],
  [
    "duplicate addValue (key, addKey)",
    {
      mapping: {
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "event", addKey: "amount" },
        ],
      },
    },
    { path: "mapping.addValue[1]" },
  ],
  // maxCombinations
  [
    "more patterns than maxCombinations",
    {
      mapping: { bitmap: ["ip"], add: ["event", "x"], top: ["y"] },
      limits: { maxCombinations: 3 },
    },
    { path: ["mapping", "limits.maxCombinations"], has: ["maxCombinations"] },
  ],
  [
    "1001 patterns under the default maxCombinations",
    { mapping: { add: many(1001) } },
    { path: ["mapping", "limits.maxCombinations"], has: ["maxCombinations"] },
  ],
  // unknown fields, at every level
  // Where a top-level message starts is left open; it must name the key.
  ["unknown top-level field", { prefx: "app" }, { path: [], has: ["prefx"] }],
  [
    "unknown time field",
    { time: { timeZone: "UTC" } },
    { path: ["time.timeZone", "time"], has: ["timeZone"] },
  ],
  [
    "unknown mapping field",
    { mapping: { adds: ["event"] } },
    { path: ["mapping.adds", "mapping"], has: ["adds"] },
  ],
  [
    "unknown limits field",
    { limits: { maxFields: 3 } },
    { path: ["limits.maxFields", "limits"], has: ["maxFields"] },
  ],
  [
    "unknown addValue field",
    { mapping: { addValue: [{ key: "event", addKey: "amount", extra: 1 }] } },
    {
      path: ["mapping.addValue[0].extra", "mapping.addValue[0]"],
      has: ["extra"],
    },
  ],
  // types and ranges
  ["prefix not a string", { prefix: 5 }, { path: "prefix" }],
  ["prefix with a space", { prefix: "my app" }, { path: "prefix" }],
  ["prefix with a tab", { prefix: "a\tb" }, { path: "prefix" }],
  [
    "prefix with a control character",
    { prefix: "a\u0001b" },
    { path: "prefix" },
  ],
  ["time not an object", { time: "UTC" }, { path: "time" }],
  [
    "storeHourly not a boolean",
    { time: { storeHourly: "yes" } },
    { path: "time.storeHourly" },
  ],
  [
    "eventTimeUnit not s or ms",
    { time: { eventTimeUnit: "us" } },
    { path: "time.eventTimeUnit" },
  ],
  [
    "eventTimeField not a string",
    { time: { eventTimeField: 5 } },
    { path: "time.eventTimeField" },
  ],
  ["add not a list", { mapping: { add: "event" } }, { path: "mapping.add" }],
  [
    "a pattern not a string",
    { mapping: { add: ["event", 5] } },
    { path: "mapping.add[1]" },
  ],
  [
    "addValue without addKey",
    { mapping: { addValue: [{ key: "event" }] } },
    { path: "mapping.addValue[0]" },
  ],
  [
    "limit 0",
    { limits: { maxValueLength: 0 } },
    { path: "limits.maxValueLength" },
  ],
  [
    "negative limit",
    { limits: { maxFieldLength: -1 } },
    { path: "limits.maxFieldLength" },
  ],
  [
    "fractional limit",
    { limits: { maxMetricsPerEvent: 1.5 } },
    { path: "limits.maxMetricsPerEvent" },
  ],
  [
    "limit as a string",
    { limits: { maxCombinations: "10" } },
    { path: "limits.maxCombinations" },
  ],
];

describe.each(ENGINES)("config, %s engine", (engine) => {
  it.each(valid)("%s", (_name, input, expected) => {
    const e = makeEngine(engine, input as ConfigInput);
    try {
      expect(e.config).toEqual(expected);
      expect(e.name).toBe(engine);
    } finally {
      e.free();
    }
  });

  it("accepts its own resolved config unchanged", () => {
    const input: ConfigInput = {
      prefix: "p",
      time: { timezone: "Asia/Kolkata", storeHourly: true },
      mapping: { bitmap: ["ip"], addValue: [{ key: "event", addKey: "a" }] },
      limits: { maxValueLength: 7 },
    };
    const first = makeEngine(engine, input);
    const second = makeEngine(engine, first.config);
    expect(second.config).toEqual(first.config);
    first.free();
    second.free();
  });

  it.each(invalid)("rejects: %s", (_name, input, expected) => {
    let error: unknown;
    try {
      makeEngine(engine, input as ConfigInput).free();
    } catch (e) {
      error = e;
    }
    expect(error, "the config must be rejected").toBeInstanceOf(ConfigError);
    const err = error as Error;
    expect(err.name).toBe("ConfigError");
    if ("exact" in expected) {
      expect(err.message).toBe(expected.exact);
      return;
    }
    // The path may name a field inside the one given (`mapping.add` for
    // `mapping`), never a sibling: the next character ends the name.
    const paths = [expected.path].flat();
    const starts =
      paths.length === 0 ||
      paths.some(
        (p) =>
          err.message.startsWith(p) &&
          /^[:.[]/.test(err.message.slice(p.length)),
      );
    expect(
      starts,
      `"${err.message}" should start with ${paths.join(" or ")}`,
    ).toBe(true);
    for (const text of expected.has ?? []) expect(err.message).toContain(text);
  });
});
