/**
 * fast-check generators for the differential suite: configs over a small
 * pool of property names, and NDJSON lines built as text so that number
 * literals, escapes, duplicate keys and malformed JSON come out exactly
 * as generated.
 */
import fc from "fast-check";
import type { ConfigInput } from "../ts/types.js";

// ---------------------------------------------------------------- zones

/** Zones with DST, :30 and :45 offsets, midnight changes and odd rules. */
export const ZONES = [
  "UTC",
  "America/New_York",
  "Europe/London",
  "Australia/Lord_Howe",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "America/Havana",
  "Pacific/Chatham",
  "America/St_Johns",
  "America/Santiago",
  "Europe/Dublin",
  "Pacific/Apia",
  "Antarctica/Troll",
  "Australia/Adelaide",
];

/**
 * Offset changes (unix s) in 1970, 2011, 2024, 2037 and 2038, found with
 * Intl when this file was written; only a source of instants to test.
 */
const CHANGES = [
  9961200, 25682400, 1299999600, 1320559200, 1710054000, 1730613600, 2120108400,
  2140668000, 2152162800, 2172722400, 1301187600, 1319936400, 1711846800,
  1729990800, 2121901200, 2140045200, 1301756400, 1317483000, 1712415600,
  1728142200, 2122470000, 2138196600, 9954000, 25675200, 1300597200, 1321160400,
  1710046800, 1730610000, 1301752800, 1316872800, 1712412000, 1727532000,
  2122466400, 2137586400, 9955800, 25677000, 1299987060, 1320553800, 1710048600,
  1730608200, 7527600, 24465600, 1304823600, 1313899200, 1712458800, 1725768000,
  1325239200, 1301761800, 1317486600, 1712421000, 1728145800,
  // Days that start inside a gap of less than an hour (Kathmandu 1986,
  // Santiago 1916, Chatham 1868, Adelaide 1899, Apia 1950, London 1847,
  // St John's 1935).
  504901800, -1688410800, -3192437628, -2230189200, -631110600, -3852662325,
  -1096921748,
  // Midnights of :30 and :45 zones, and a few plain instants.
  1730572200, 1730571300, 0, 1696118400, 2147483647, 951782400,
];

/** An instant (unix s) near an offset change, a midnight or an edge. */
export const instant: fc.Arbitrary<number> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...CHANGES),
        fc.oneof(
          fc.integer({ min: -2, max: 2 }),
          fc.integer({ min: -3600, max: 3600 }),
          fc.integer({ min: -2, max: 2 }).map((h) => h * 3600),
          fc.integer({ min: -2, max: 2 }).map((h) => h * 1800 - 1),
          fc.integer({ min: -3 * 86400, max: 3 * 86400 }),
        ),
      )
      .map(([t, d]) => t + d),
  },
  { weight: 1, arbitrary: fc.integer({ min: -2208988800, max: 4102444800 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      4102444799,
      4102444800,
      4102358400,
      253402300799,
      253402300800,
      -62135596800,
      -62135596801,
      253402214400,
      -62135596800 + 86400,
      -1,
      -86401,
    ),
  },
);

// ---------------------------------------------------------------- config

/** Property names the configs use; dotted ones come nested or flat. */
export const NAMES = [
  "event",
  "a",
  "b",
  "ip",
  "utm_source",
  "device.type",
  "x.y.z",
  "amount",
  "ts",
  "é",
  "😀",
  "ａ",
  "Z",
  "a.b",
];

const pattern = fc
  .uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 })
  .map((names) => names.join("~"));

/** `a~b` and `b~a` name the same pattern. */
const canonical = (p: string) => p.split("~").sort().join("~");

const patterns = (maxLength: number) =>
  fc.uniqueArray(pattern, { maxLength, selector: canonical });

/** Leaves out the keys whose value is undefined, as a user would. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as T;
}

export interface ConfigOptions {
  /** Force hourly buckets and an event time field, for the DST suite. */
  timeFocus?: boolean;
  /** Small limits only, to hit cuts and rejections often. */
  smallLimits?: boolean;
}

/** A valid config input, fields left out at random. */
export function configArb(opts: ConfigOptions = {}): fc.Arbitrary<ConfigInput> {
  const small = (values: number[]) =>
    opts.smallLimits
      ? fc.constantFrom(...values)
      : fc.option(fc.constantFrom(...values), { nil: undefined, freq: 2 });
  const time = fc.record({
    timezone: opts.timeFocus
      ? fc.constantFrom(...ZONES)
      : fc.option(fc.constantFrom(...ZONES), { nil: undefined, freq: 4 }),
    storeHourly: opts.timeFocus
      ? fc.constant(true)
      : fc.option(fc.boolean(), { nil: undefined }),
    eventTimeField: opts.timeFocus
      ? fc.constantFrom("ts", "meta.ts")
      : fc.option(fc.constantFrom<string | null>("ts", "meta.ts", null), {
          nil: undefined,
        }),
    eventTimeUnit: fc.option(fc.constantFrom<"s" | "ms">("s", "ms"), {
      nil: undefined,
    }),
  });
  const addValue = fc.uniqueArray(
    fc.record({
      key: pattern,
      addKey: fc.constantFrom("amount", "a", "ts", "x.y.z", "é"),
    }),
    { maxLength: 3, selector: (v) => `${canonical(v.key)}\u0000${v.addKey}` },
  );
  const mapping = fc.record({
    bitmap: fc.option(patterns(2), { nil: undefined }),
    add: fc.option(patterns(4), { nil: undefined, freq: 3 }),
    addValue: fc.option(addValue, { nil: undefined }),
    top: fc.option(patterns(2), { nil: undefined }),
  });
  const limits = fc.record({
    maxFieldLength: small([1, 2, 3, 5, 8, 128]),
    maxValueLength: small([1, 2, 3, 4, 6, 10, 512]),
    maxMetricsPerEvent: small([1, 2, 3, 4, 6, 10, 1000]),
    maxCombinations: fc.option(fc.constantFrom(20, 1000), { nil: undefined }),
  });
  return fc
    .record({
      prefix: fc.option(fc.constantFrom("", "p", "app:v1", "é😀", "a~b"), {
        nil: undefined,
      }),
      time: opts.timeFocus
        ? time
        : fc.option(time, { nil: undefined, freq: 5 }),
      mapping: fc.option(mapping, { nil: undefined, freq: 8 }),
      limits: opts.smallLimits
        ? limits
        : fc.option(limits, { nil: undefined, freq: 2 }),
    })
    .map((c) =>
      compact({
        prefix: c.prefix,
        time: c.time && compact(c.time),
        mapping: c.mapping && compact(c.mapping),
        limits: c.limits && compact(c.limits),
      }),
    );
}

// ---------------------------------------------------------------- strings

/** Characters that sanitizing, cutting or JSON escaping must get right. */
const TRICKY = [
  " ",
  "\t",
  "\n",
  "\r",
  "\u000b",
  "\u000c",
  "\u001c",
  "\u001f",
  "~",
  ":",
  "\u0000",
  "\u007f",
  "\u0080",
  "\u0085",
  "\u009f",
  "\u00a0",
  "\u1680",
  "\u180e",
  "\u2000",
  "\u200a",
  "\u200b",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "\u{10ffff}",
  "é",
  "e\u0301",
  "a\u0308\u0301",
  "😀",
  "👍🏽",
  "👨‍👩‍👧",
  "🇫🇷",
  "ａ",
  '"',
  "\\",
  "/",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "0",
  "-",
  ".",
  "e",
  "x",
];

const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TRICKY) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "purchase",
      "google",
      "x y",
      "1.5",
      "-0",
      "1e3",
      "0x10",
      "NaN",
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 2 }) },
);

/** A short string full of edge cases, lone surrogates included. */
export const trickyString = fc
  .array(piece, { maxLength: 8 })
  .map((ps) => ps.join(""));

/** A long string whose length falls around the default 512 limit. */
export const longString = fc
  .tuple(
    fc.integer({ min: 500, max: 520 }),
    fc.constantFrom("x", "😀", "é", " ", "~", "👍🏽"),
    fc.constantFrom("", " ", "~", "😀", "\u0085"),
    fc.nat(),
  )
  .map(([n, unit, odd, at]) => {
    const chars: string[] = Array.from({ length: n }, () => unit);
    chars[at % n] = odd;
    return chars.join("");
  });

const hex4 = (c: number, upper: boolean) => {
  const h = c.toString(16).padStart(4, "0");
  return "\\u" + (upper ? h.toUpperCase() : h);
};

/**
 * A JSON string literal for `s`. `escape` is 0..3: how eagerly to write
 * characters as escapes. Lone surrogates are escaped unless `raw` (then
 * they stay raw in the text, as a broken JS string would hold them).
 */
function jsonString(s: string, escape: number, raw: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    const high = c >= 0xd800 && c <= 0xdbff;
    const low = c >= 0xdc00 && c <= 0xdfff;
    const paired =
      (high && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) ||
      (low && i > 0 && (s.charCodeAt(i - 1) & 0xfc00) === 0xd800);
    const mix = (i * 7 + c) % 4 < escape;
    if (ch === '"') out += mix ? "\\u0022" : '\\"';
    else if (ch === "\\") out += mix ? "\\u005C" : "\\\\";
    else if (ch === "\n") out += mix ? "\\u000a" : "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20) out += hex4(c, mix);
    else if ((high || low) && !paired) out += raw ? ch : hex4(c, mix);
    else if (ch === "/" && mix) out += "\\/";
    else if (mix && c > 0x7e) out += hex4(c, (i & 1) === 0);
    else out += ch;
  }
  return out + '"';
}

/** A string value as JSON text, escaped in one of several ways. */
function stringLiteralOf(long: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(
      long
        ? fc.oneof(
            { weight: 9, arbitrary: trickyString },
            { weight: 1, arbitrary: longString },
          )
        : trickyString,
      fc.integer({ min: 0, max: 3 }),
      fc.boolean(),
    )
    .map(([s, e, raw]) => jsonString(s, e, raw && e === 0));
}

/** A string value as JSON text, long ones (around 512) included. */
export const stringLiteral = stringLiteralOf(true);

// ---------------------------------------------------------------- numbers

/** A JSON number literal, written in many ways. */
export const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom("", "-"),
        fc.oneof(fc.constant("0"), fc.stringMatching(/^[1-9][0-9]{0,24}$/)),
        fc.option(fc.stringMatching(/^\.[0-9]{1,22}$/), { nil: "" }),
        fc.option(
          fc
            .tuple(
              fc.constantFrom("e", "E"),
              fc.constantFrom("", "+", "-"),
              fc.oneof(
                fc.integer({ min: 0, max: 25 }),
                fc.integer({ min: 300, max: 330 }),
                fc.integer({ min: 0, max: 999 }),
                fc.constantFrom("007", "00"),
              ),
            )
            .map(([e, s, n]) => `${e}${s}${n}`),
          { nil: "" },
        ),
      )
      .map(([s, i, f, e]) => s + i + f + e),
  },
  {
    weight: 2,
    arbitrary: fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .map((d) => String(d)),
  },
  {
    weight: 1,
    arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "2868860079149422351",
      "-0",
      "0",
      "1.0",
      "1e21",
      "1e20",
      "5e-7",
      "1e-7",
      "99.99",
      "1e400",
      "-1e400",
      "1e-400",
      "-0.0",
      "0.1",
      "9007199254740993",
      "9007199254740993.0",
      "1.7976931348623157e308",
      "1.7976931348623159e308",
      "2.5e-324",
      "2.4e-324",
      "5e-324",
      "4.9406564584124654e-324",
      "0.30000000000000004",
      "123456789012345678901234567890",
      "1" + "0".repeat(400),
      "1" + "0".repeat(400) + ".0",
    ),
  },
);

/**
 * A number written inside a JSON string, as amounts often come: valid
 * literals, padded with white space or reserved characters, and near
 * misses (`+5`, `05`, `.5`, `0x10`, `Infinity`).
 */
export const numericString: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: numberLiteral },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "+5",
          "05",
          ".5",
          "5.",
          "1e",
          "--1",
          "0x10",
          "Infinity",
          "-Infinity",
          "NaN",
          "1_000",
          "1,5",
          "1 000",
          "١٢",
          "５",
          "1e+",
          "0.5e-",
          "00",
          "-",
          "",
        ),
      },
    ),
    fc.constantFrom("", "", "", " ", "~", "\u0085", "\t", ":"),
    fc.constantFrom("", "", "", " ", "~", "\ufeff", "\n"),
  )
  .map(([n, pre, post]) => `"${pre}${n}${post}"`);

// ---------------------------------------------------------------- times

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** An RFC 3339 text for instant `t` at `offsetMin`, in varied spellings. */
function rfc3339(
  t: number,
  offsetMin: number,
  frac: string,
  lower: boolean,
  zulu: boolean,
): string {
  const d = new Date((t + offsetMin * 60) * 1000);
  const y = d.getUTCFullYear();
  const date =
    (y < 0 ? "-" + pad(-y, 4) : pad(y, 4)) +
    `-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const off =
    zulu && offsetMin === 0
      ? "Z"
      : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  const s = `${date}T${time}${frac}${off}`;
  return lower ? s.toLowerCase() : s;
}

const offsetMinutes = fc.oneof(
  fc.constantFrom(
    0,
    -240,
    -300,
    60,
    0,
    330,
    345,
    630,
    660,
    765,
    825,
    -210,
    -150,
    780,
  ),
  fc.integer({ min: -56, max: 56 }).map((q) => q * 15),
  fc.integer({ min: -1439, max: 1439 }),
);

/** Ways to break an RFC 3339 text. */
const breakTime = fc.constantFrom<(s: string) => string>(
  (s) => s.replace("T", " "),
  (s) => s.replace(/(Z|z|[+-]\d\d:\d\d)$/, ""),
  (s) => s.replace(/([+-]\d\d):(\d\d)$/, "$1$2"),
  (s) => s.replace(/:\d\d(?=[.zZ+-])/, ""),
  (s) => s.replace(/T\d\d/, "T24"),
  (s) => s.replace(/T\d\d:\d\d:\d\d/, "T23:59:60"),
  (s) => s.replace(/-\d\d-\d\dT/, "-02-30T"),
  (s) => s.replace(/-\d\d-\d\dT/, "-02-29T"),
  (s) => s.replace(/^\d{4}/, "1"),
  (s) => s.replace(/^\d{4}/, "+2024"),
  (s) => s.replace(/^\d{4}/, "10000"),
  (s) => s.replace(/(Z|z)$/, "-00:00"),
  (s) => s.replace(/[+-]\d\d:\d\d$/, "+24:00"),
  (s) => s + " ",
  (s) => " \u0085" + s,
  (s) => s + "x",
  (s) => s.slice(0, -1),
  (s) => s.replace(".", ","),
  (s) => s.replace(/\.\d+/, "."),
);

/** An event time value as JSON text, mostly valid, near DST changes. */
export const timeLiteral: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        instant,
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: 0, max: 5 }),
      )
      .map(([t, ms, form]) => {
        switch (form) {
          case 0:
          case 1:
            return String(t);
          case 2:
            return String(t * 1000 + ms);
          case 3:
            return `${t}.${pad(ms, 3)}`;
          case 4:
            return (t * 1000 + ms).toExponential();
          default:
            return `${t * 1000 + ms}.5`;
        }
      }),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        instant,
        offsetMinutes,
        fc.constantFrom("", "", ".5", ".999999999", ".0", ".123456789012"),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 4 }),
        breakTime,
      )
      .map(([t, off, frac, lower, zulu, broken, br]) => {
        const s = rfc3339(t, off, frac, lower && broken === 0, zulu);
        return JSON.stringify(broken === 1 ? br(s) : s);
      }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "true",
      "false",
      "null",
      "[]",
      "{}",
      '{"x":1}',
      '""',
      '"  "',
      '"yesterday"',
      '"1730611800"',
      "1e400",
      "-1e20",
      "99999999999999999999",
      '"\\ud800"',
    ),
  },
);

// ---------------------------------------------------------------- events

export interface LineOptions {
  /** Favour event times; other properties are rarer. */
  timeFocus?: boolean;
  /** Names the config reads; events favour them so patterns fill up. */
  names?: string[];
  /** No strings of around 512 characters (keeps every-prefix runs small). */
  short?: boolean;
}

/** Every property name a config reads. */
export function namesOf(config: ConfigInput): string[] {
  const m = config.mapping ?? {};
  const patterns = [
    ...(m.bitmap ?? []),
    ...(m.add ?? ["event"]),
    ...(m.top ?? []),
    ...(m.addValue ?? []).flatMap((v) => [v.key, v.addKey]),
  ];
  const names = new Set(patterns.flatMap((p) => p.split("~")));
  const field = config.time?.eventTimeField;
  if (field) names.add(field);
  names.delete("event");
  return [...names];
}

/** A key as JSON text, sometimes escaped. */
const keyText = (key: string) =>
  fc
    .integer({ min: 0, max: 3 })
    .map((e) => jsonString(key, e === 3 ? 2 : 0, false));

/** A value of any JSON kind, as text; `depth` bounds nesting. */
function valueText(depth: number, long: boolean): fc.Arbitrary<string> {
  const leaves = [
    { weight: 6, arbitrary: stringLiteralOf(long) },
    { weight: 4, arbitrary: numberLiteral },
    { weight: 2, arbitrary: numericString },
    { weight: 1, arbitrary: fc.constantFrom("true", "false", "null") },
  ];
  if (depth <= 0) return fc.oneof(...leaves);
  return fc.oneof(
    ...leaves,
    {
      weight: 1,
      arbitrary: fc
        .array(valueText(depth - 1, long), { maxLength: 3 })
        .map((vs) => `[${vs.join(",")}]`),
    },
    { weight: 1, arbitrary: objectText(depth - 1, long) },
  );
}

/** A nested object as text, keys from the pool and some noise. */
function objectText(depth: number, long: boolean): fc.Arbitrary<string> {
  return fc
    .array(
      fc.tuple(
        fc.constantFrom("type", "z", "y", "ts", "event", "a", "b", "", "x.y"),
        valueText(depth, long),
      ),
      { maxLength: 3 },
    )
    .map(
      (ms) => `{${ms.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`,
    );
}

/** One member of the top-level object: a named property, flat or nested. */
function namedMember(
  value: fc.Arbitrary<string>,
  preferred: string[] = [],
): fc.Arbitrary<string> {
  const all = fc.constantFrom(...NAMES, "meta.ts", "price.total", "x.y");
  const name =
    preferred.length > 0
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...preferred) }, all)
      : all;
  return fc.tuple(name, fc.nat(), value).chain(([name, cut, v]) => {
    const parts = name.split(".");
    const at = 1 + (cut % parts.length);
    const head = parts.slice(0, at).join(".");
    const tail = parts.slice(at);
    let inner = v;
    for (let i = tail.length - 1; i >= 0; i--) {
      inner = `{${JSON.stringify(tail[i])}:${inner}}`;
    }
    return keyText(head).map((k) => `${k}:${inner}`);
  });
}

const eventValue = (long: boolean) =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constantFrom('"purchase"', '"view"', '"sign up"'),
    },
    { weight: 1, arbitrary: fc.constantFrom('"~"', '""', '" \\u0085 "') },
    { weight: 4, arbitrary: stringLiteralOf(long) },
    { weight: 1, arbitrary: valueText(1, long) },
  );

/** A well-formed event object as one line of text. */
export function eventText(opts: LineOptions = {}): fc.Arbitrary<string> {
  const long = !opts.short;
  const value = valueText(2, long);
  const members = fc.oneof(
    {
      weight: opts.timeFocus ? 1 : 8,
      arbitrary: namedMember(value, opts.names),
    },
    {
      weight: opts.timeFocus ? 6 : 2,
      arbitrary: fc
        .tuple(fc.constantFrom('"ts"', '"meta"', '"t\\u0073"'), timeLiteral)
        .map(([k, v]) => (k === '"meta"' ? `${k}:{"ts":${v}}` : `${k}:${v}`)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('"ev\\u0065nt"', '"\\u0065vent"', '"event"'),
          eventValue(long),
        )
        .map(([k, v]) => `${k}:${v}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('"k\\ud800"', '""', '" "', '"a."', '"unused"'),
          value,
        )
        .map(([k, v]) => `${k}:${v}`),
    },
  );
  return fc
    .tuple(
      fc.option(eventValue(long), { freq: 12, nil: undefined }),
      fc.array(members, { maxLength: opts.timeFocus ? 3 : 8 }),
      fc.nat(),
      fc.constantFrom("", "", "", " ", "\t", "\r", " \r"),
    )
    .map(([ev, ms, at, ws]) => {
      const all = [...ms];
      if (ev !== undefined)
        all.splice(at % (all.length + 1), 0, `"event":${ev}`);
      return `${ws}{${all.join(ws ? `,${ws}` : ",")}}${ws}`;
    });
}

/** JSON-ish garbage and values that are not objects. */
const GARBAGE = [
  "{",
  "}",
  "[",
  "[1,2",
  "[1,2]",
  '"x"',
  "42",
  "-0",
  "null",
  "true",
  "{}",
  '{"event":"a",}',
  '{"event":01}',
  '{"event":"a\\q"}',
  '{"event":"\\u12"}',
  '{"event":"\\u12',
  "{'event':'a'}",
  '{event:"a"}',
  '\ufeff{"event":"a"}',
  '{"event":"a"}{}',
  '{"event":"a"} x',
  '{"event":"a\tb"}',
  '{"event":NaN}',
  '{"event":"a","v":-}',
  '{"event":"a","v":+1}',
  '{"event":"a","v":.5}',
  '{"event":"a","v":1.}',
  '{"event":"a","v":1e}',
  '{"event":"a","v":1.e5}',
  '{"event":"a","v":00}',
  '{"event":"a","v":-01}',
  '{"event":"a" "v":1}',
  '{"event" "a"}',
  '{"event":"a",,"v":1}',
  '{,"event":"a"}',
  '{"event":"a"]',
  '["event","a"}',
  "\u00a0",
  "\u000c",
  "\u000b",
  "\u0000",
  "nul",
  "tru",
  '{"event":"a","v":"\\ud800\\"}',
  '{"event":"\\uD83D\\uDE00"}',
  '{"a":' + "[".repeat(130) + "]".repeat(130) + ',"event":"deep"}',
  '{"event":"deep","a":' + '{"a":'.repeat(126) + "1" + "}".repeat(127),
  '{"event":"deep","a":' + '{"a":'.repeat(127) + "1" + "}".repeat(128),
  '{"event":"deep","a":' + '{"a":'.repeat(200) + "1" + "}".repeat(201),
];

/** A line that is cut, corrupted or not JSON at all. */
export function malformedLine(opts: LineOptions = {}): fc.Arbitrary<string> {
  const valid = eventText(opts);
  return fc
    .oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(valid, fc.nat())
          .map(([s, n]) => s.slice(0, n % (s.length + 1))),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            valid,
            fc.nat(),
            fc.constantFrom(
              "",
              "{",
              "}",
              '"',
              "\\",
              ",",
              ":",
              "0",
              "-",
              "e",
              ".",
              "[",
              "]",
              "\u0001",
              "x",
              " ",
              "\ud800",
            ),
            fc.boolean(),
          )
          .map(([s, n, c, replace]) => {
            const i = n % (s.length + 1);
            return s.slice(0, i) + c + s.slice(replace ? i + 1 : i);
          }),
      },
      { weight: 3, arbitrary: fc.constantFrom(...GARBAGE) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
      { weight: 1, arbitrary: fc.tuple(valid, valid).map(([a, b]) => a + b) },
    )
    .map((s) => s.replace(/\n/g, "\\n"));
}

/** A blank line: only JSON white space. */
export const blankLine = fc.stringMatching(/^[ \t\r]{0,3}$/);

/** Any line: mostly events, some blank, some malformed. */
export function lineArb(opts: LineOptions = {}): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 15, arbitrary: eventText(opts) },
    { weight: 2, arbitrary: blankLine },
    { weight: 3, arbitrary: malformedLine(opts) },
  );
}

/**
 * The processing clock, in ms, near DST changes too, within 1900-2099
 * (an engine refuses a clock outside the event time range).
 */
export const nowMs = fc
  .tuple(
    instant.filter((t) => t >= -2208988800 && t < 4102444800),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(([t, ms]) => t * 1000 + ms);
