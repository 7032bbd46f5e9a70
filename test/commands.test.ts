/**
 * Command generation (SPEC section 4), amounts (section 2, "Amounts";
 * docs/semantics.md "Amounts") and the text output format.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatJson, formatText, quoteArg } from "../ts/batch.js";
import type { ConfigInput, EngineName } from "../ts/types.js";
import {
  ENGINES,
  cmd,
  makeEngine,
  ok,
  rejected,
  runRaw,
  type Cmd,
} from "./helpers.js";

/** 2023-10-01T00:00:00Z, the instant of the spec's example. */
const T = 1696118400;
/** Five hours into that day, with a fraction of a second. */
const H = T + 5 * 3600;
const NOW = (H + 7) * 1000 + 250;

const specConfig: ConfigInput = {
  mapping: {
    bitmap: ["ip"],
    add: ["event", "event~utm_source"],
    addValue: [{ key: "event", addKey: "amount" }],
  },
};
const specEvent =
  '{"event":"purchase","amount":99.99,"ip":"127.0.0.1","utm_source":"google"}';
const specOutput = [
  "PFADD bmp:d:1696118400:ip 127.0.0.1",
  "INCR add:d:1696118400:event:purchase",
  "INCR add:d:1696118400:event~utm_source:purchase~google",
  "INCRBYFLOAT adv:d:1696118400:amount:event:purchase 99.99",
];

/** [name, config, event line, expected commands]. */
const commandCases: [string, ConfigInput, string, Cmd[]][] = [
  [
    "every type, in type order then config order, d then h",
    {
      time: { storeHourly: true },
      mapping: {
        top: ["utm_campaign"],
        addValue: [
          { key: "event", addKey: "amount" },
          { key: "utm_source", addKey: "amount" },
        ],
        add: ["event", "event~utm_source"],
        bitmap: ["ip", "ua"],
      },
    },
    '{"utm_campaign":"spring","ua":"x","amount":5,"utm_source":"google","ip":"1.2.3.4","event":"buy"}',
    [
      cmd.pfadd(`bmp:d:${T}:ip`, "1.2.3.4"),
      cmd.pfadd(`bmp:h:${H}:ip`, "1.2.3.4"),
      cmd.pfadd(`bmp:d:${T}:ua`, "x"),
      cmd.pfadd(`bmp:h:${H}:ua`, "x"),
      cmd.incr(`add:d:${T}:event:buy`),
      cmd.incr(`add:h:${H}:event:buy`),
      cmd.incr(`add:d:${T}:event~utm_source:buy~google`),
      cmd.incr(`add:h:${H}:event~utm_source:buy~google`),
      cmd.adv(`adv:d:${T}:amount:event:buy`, "5"),
      cmd.adv(`adv:h:${H}:amount:event:buy`, "5"),
      cmd.adv(`adv:d:${T}:amount:utm_source:google`, "5"),
      cmd.adv(`adv:h:${H}:amount:utm_source:google`, "5"),
      cmd.top(`top:d:${T}:utm_campaign`, "spring"),
      cmd.top(`top:h:${H}:utm_campaign`, "spring"),
    ],
  ],
  [
    "config order within a type is kept (not sorted)",
    { mapping: { add: ["z", "event", "a"] } },
    '{"event":"e","a":"1","z":"2"}',
    [
      cmd.incr(`add:d:${T}:z:2`),
      cmd.incr(`add:d:${T}:event:e`),
      cmd.incr(`add:d:${T}:a:1`),
    ],
  ],
  [
    "the spec's utm_source~event becomes event~utm_source",
    { mapping: { add: ["utm_source~event"] } },
    '{"event":"purchase","utm_source":"google"}',
    [cmd.incr(`add:d:${T}:event~utm_source:purchase~google`)],
  ],
  [
    "three names sorted, values follow the names",
    { mapping: { add: ["c~a~b"] } },
    '{"event":"e","a":"1","b":"2","c":"3"}',
    [cmd.incr(`add:d:${T}:a~b~c:1~2~3`)],
  ],
  [
    "upper case sorts before lower case",
    { mapping: { add: ["a~Z"] } },
    '{"event":"e","a":"lower","Z":"upper"}',
    [cmd.incr(`add:d:${T}:Z~a:upper~lower`)],
  ],
  [
    "'.' (U+002E) sorts before '_' (U+005F)",
    { mapping: { add: ["a_b~a.b"] } },
    '{"event":"e","a_b":"u","a":{"b":"d"}}',
    [cmd.incr(`add:d:${T}:a.b~a_b:d~u`)],
  ],
  [
    "'z' sorts before 'é'",
    { mapping: { add: ["é~z"] } },
    '{"event":"e","z":"1","é":"2"}',
    [cmd.incr(`add:d:${T}:z~é:1~2`)],
  ],
  [
    // UTF-16 order would put U+1F600 (D83D DE00) before U+FF41.
    "sorting is by code point, not UTF-16 unit",
    { mapping: { add: ["😀~ａ"] } },
    '{"event":"e","😀":"smile","ａ":"wide"}',
    [cmd.incr(`add:d:${T}:ａ~😀:wide~smile`)],
  ],
  [
    "bitmap, addValue and top patterns are sorted too",
    {
      mapping: {
        bitmap: ["ua~ip"],
        add: [],
        addValue: [{ key: "utm_source~event", addKey: "amount" }],
        top: ["utm_source~event"],
      },
    },
    '{"event":"e","ip":"1.1.1.1","ua":"ff","utm_source":"g","amount":2}',
    [
      cmd.pfadd(`bmp:d:${T}:ip~ua`, "1.1.1.1~ff"),
      cmd.adv(`adv:d:${T}:amount:event~utm_source:e~g`, "2"),
      cmd.top(`top:d:${T}:event~utm_source`, "e~g"),
    ],
  ],
  [
    "a pattern with a missing property produces nothing",
    {
      mapping: {
        bitmap: ["ip"],
        add: ["event", "event~utm_source"],
        top: ["x"],
      },
    },
    '{"event":"e","ip":"1.1.1.1"}',
    [cmd.pfadd(`bmp:d:${T}:ip`, "1.1.1.1"), cmd.incr(`add:d:${T}:event:e`)],
  ],
  [
    "a property that sanitizes to nothing is missing",
    { mapping: { add: ["event", "event~utm_source"] } },
    '{"event":"e","utm_source":" ~ "}',
    [cmd.incr(`add:d:${T}:event:e`)],
  ],
  [
    "an addValue whose key pattern is missing produces nothing",
    { mapping: { add: [], addValue: [{ key: "event~x", addKey: "amount" }] } },
    '{"event":"e","amount":3}',
    [],
  ],
  [
    "an empty mapping accepts the event with no commands",
    { mapping: { add: [] } },
    '{"event":"e"}',
    [],
  ],
  [
    "reserved characters in values cannot fake a join",
    { mapping: { add: ["a~b"] } },
    '{"event":"e","a":"x~y","b":"z:w"}',
    [cmd.incr(`add:d:${T}:a~b:x_y~z_w`)],
  ],
  [
    "values with spaces stay one argument",
    { mapping: { top: ["q"], bitmap: ["q"], add: [] } },
    '{"event":"e","q":"new york"}',
    [
      cmd.pfadd(`bmp:d:${T}:q`, "new york"),
      cmd.top(`top:d:${T}:q`, "new york"),
    ],
  ],
  [
    "prefix starts every key",
    {
      prefix: "app",
      mapping: {
        bitmap: ["ip"],
        add: ["event"],
        addValue: [{ key: "event", addKey: "amount" }],
        top: ["event"],
      },
    },
    '{"event":"e","ip":"1.1.1.1","amount":1.5}',
    [
      cmd.pfadd(`app:bmp:d:${T}:ip`, "1.1.1.1"),
      cmd.incr(`app:add:d:${T}:event:e`),
      cmd.adv(`app:adv:d:${T}:amount:event:e`, "1.5"),
      cmd.top(`app:top:d:${T}:event`, "e"),
    ],
  ],
  [
    "prefix with ':' and hourly buckets",
    { prefix: "app:v1", time: { storeHourly: true } },
    '{"event":"e"}',
    [
      cmd.incr(`app:v1:add:d:${T}:event:e`),
      cmd.incr(`app:v1:add:h:${H}:event:e`),
    ],
  ],
  [
    "nested addKey",
    {
      mapping: { add: [], addValue: [{ key: "event", addKey: "price.total" }] },
    },
    '{"event":"e","price":{"total":"7.50"}}',
    [cmd.adv(`adv:d:${T}:price.total:event:e`, "7.5")],
  ],
  [
    "a bad amount drops only its adv",
    {
      mapping: {
        add: ["event"],
        addValue: [
          { key: "event", addKey: "a" },
          { key: "event", addKey: "b" },
        ],
      },
    },
    '{"event":"e","a":"abc","b":"2"}',
    [cmd.incr(`add:d:${T}:event:e`), cmd.adv(`adv:d:${T}:b:event:e`, "2")],
  ],
];

/** [amount literal in the JSON text, the amount sent or null for none]. */
const amountCases: [string, string | null][] = [
  ["99.99", "99.99"],
  ["5", "5"],
  ["-5", "-5"],
  ["0", "0"],
  ["-0", "0"],
  ["1.0", "1"],
  ["1e21", "1e+21"],
  ["5e-7", "5e-7"],
  ["2868860079149422351", "2868860079149422351"],
  ['"0.99"', "0.99"],
  ['"-5"', "-5"],
  ['"1e3"', "1000"],
  ['"0.50"', "0.5"],
  ['"-0"', "0"],
  ['"5.0"', "5"],
  ['"1E-7"', "1e-7"],
  ['"2868860079149422351"', "2868860079149422351"],
  ['" 5 "', "5"],
  ['"~5~"', "5"],
  ['"\\u00a05\\n"', "5"],
  ["1e400", null],
  ["true", null],
  ["false", null],
  ["null", null],
  ["[1]", null],
  ['{"x":1}', null],
  ['"abc"', null],
  ['"0x10"', null],
  ['"Infinity"', null],
  ['"-Infinity"', null],
  ['"NaN"', null],
  ['"+5"', null],
  ['"05"', null],
  ['".5"', null],
  ['"5."', null],
  ['"1e"', null],
  ['"--5"', null],
  ['"1 000"', null],
  ['"1,5"', null],
  ['""', null],
  ['"   "', null],
  ['"1e400"', null],
  ['"-1e400"', null],
  ['"５"', null],
  ['"true"', null],
];

describe.each(ENGINES)("commands, %s engine", (engine) => {
  it("the spec's section 4 example, raw", () => {
    const raw = runRaw(engine, specConfig, specEvent, T * 1000);
    expect(raw).toBe(
      ok(
        cmd.pfadd(`bmp:d:${T}:ip`, "127.0.0.1"),
        cmd.incr(`add:d:${T}:event:purchase`),
        cmd.incr(`add:d:${T}:event~utm_source:purchase~google`),
        cmd.adv(`adv:d:${T}:amount:event:purchase`, "99.99"),
      ),
    );
  });

  it("the spec's section 4 example, as text", () => {
    const e = makeEngine(engine, specConfig);
    const [result] = e.process(specEvent, T * 1000);
    e.free();
    expect(result?.ok).toBe(true);
    if (!result?.ok) return;
    expect(result.commands.map(formatText)).toEqual(specOutput);
  });

  it("an event given as an object counts as its JSON.stringify text", () => {
    const e = makeEngine(engine, { mapping: { add: ["v", "w", "n.x"] } });
    const results = e.process(
      [{ event: "e", v: 1e21, w: -0, n: { x: true } }, { event: "" }],
      T * 1000,
    );
    e.free();
    expect(results).toEqual([
      {
        ok: true,
        commands: [
          cmd.incr(`add:d:${T}:v:1e+21`),
          cmd.incr(`add:d:${T}:w:0`),
          cmd.incr(`add:d:${T}:n.x:true`),
        ],
      },
      { ok: false, error: "event name cannot be empty" },
    ]);
  });

  it.each(commandCases)("%s", (_name, config, line, commands) => {
    expect(runRaw(engine, config, line, NOW)).toBe(ok(...commands));
  });

  it.each(amountCases)("amount %s", (literal, amount) => {
    const config: ConfigInput = {
      mapping: {
        add: ["event"],
        addValue: [{ key: "event", addKey: "amount" }],
      },
    };
    const line = `{"event":"e","amount":${literal}}`;
    const counted = cmd.incr(`add:d:${T}:event:e`);
    expect(runRaw(engine, config, line, NOW)).toBe(
      amount === null
        ? ok(counted)
        : ok(counted, cmd.adv(`adv:d:${T}:amount:event:e`, amount)),
    );
  });

  it("a string amount is sanitized, cut to maxValueLength included", () => {
    const config: ConfigInput = {
      mapping: { add: [], addValue: [{ key: "event", addKey: "amount" }] },
      limits: { maxValueLength: 3 },
    };
    const raw = runRaw(
      engine,
      config,
      '{"event":"e","amount":"12345"}\n{"event":"e","amount":12345}',
      NOW,
    );
    expect(raw).toBe(
      ok(cmd.adv(`adv:d:${T}:amount:event:e`, "123")) +
        ok(cmd.adv(`adv:d:${T}:amount:event:e`, "12345")),
    );
  });
});

describe.each(ENGINES)("maxMetricsPerEvent, %s engine", (engine) => {
  const config = (max: number): ConfigInput => ({
    time: { storeHourly: true },
    mapping: { add: ["event", "event~a", "event~b"] },
    limits: { maxMetricsPerEvent: max },
  });
  const all = '{"event":"e","a":"1","b":"2"}';
  const some = '{"event":"e","a":"1"}';

  it("rejects an event with one command too many", () => {
    expect(runRaw(engine, config(5), all, NOW)).toBe(
      rejected(
        "event produces 6 commands, more than limits.maxMetricsPerEvent (5)",
      ),
    );
  });

  it("accepts an event with exactly the maximum", () => {
    expect(runRaw(engine, config(6), all, NOW)).toBe(
      ok(
        cmd.incr(`add:d:${T}:event:e`),
        cmd.incr(`add:h:${H}:event:e`),
        cmd.incr(`add:d:${T}:a~event:1~e`),
        cmd.incr(`add:h:${H}:a~event:1~e`),
        cmd.incr(`add:d:${T}:b~event:2~e`),
        cmd.incr(`add:h:${H}:b~event:2~e`),
      ),
    );
  });

  it("counts the commands an event really produces", () => {
    expect(runRaw(engine, config(5), `${all}\n${some}`, NOW)).toBe(
      rejected(
        "event produces 6 commands, more than limits.maxMetricsPerEvent (5)",
      ) +
        ok(
          cmd.incr(`add:d:${T}:event:e`),
          cmd.incr(`add:h:${H}:event:e`),
          cmd.incr(`add:d:${T}:a~event:1~e`),
          cmd.incr(`add:h:${H}:a~event:1~e`),
        ),
    );
  });

  it("counts every type of command", () => {
    const raw = runRaw(
      engine,
      {
        mapping: {
          bitmap: ["ip"],
          addValue: [{ key: "event", addKey: "amount" }],
        },
        limits: { maxMetricsPerEvent: 2 },
      },
      '{"event":"e","ip":"1.1.1.1","amount":1}\n{"event":"e","ip":"1.1.1.1"}',
      NOW,
    );
    expect(raw).toBe(
      rejected(
        "event produces 3 commands, more than limits.maxMetricsPerEvent (2)",
      ) +
        ok(
          cmd.pfadd(`bmp:d:${T}:ip`, "1.1.1.1"),
          cmd.incr(`add:d:${T}:event:e`),
        ),
    );
  });
});

// A reader of redis-cli input, written from how redis-cli splits a line:
// white space separates arguments; "..." understands \xHH, \n, \r, \t,
// \b, \a and \<char>; '...' understands \'; a closing quote must be
// followed by white space or the end. It works on UTF-8 bytes.
function redisCliSplit(line: string): string[] {
  const b = new TextEncoder().encode(line);
  const isSpace = (c: number | undefined) =>
    c === 0x20 || (c !== undefined && c >= 0x09 && c <= 0x0d);
  const isHex = (c: number | undefined) =>
    c !== undefined && /^[0-9a-fA-F]$/.test(String.fromCharCode(c));
  const args: string[] = [];
  let p = 0;
  for (;;) {
    while (isSpace(b[p])) p++;
    if (p >= b.length) return args;
    const cur: number[] = [];
    let mode: "plain" | "dq" | "sq" = "plain";
    for (let done = false; !done;) {
      const c = b[p];
      if (mode === "dq") {
        if (c === undefined) throw new Error("unbalanced double quotes");
        if (
          c === 0x5c &&
          b[p + 1] === 0x78 &&
          isHex(b[p + 2]) &&
          isHex(b[p + 3])
        ) {
          cur.push(parseInt(String.fromCharCode(b[p + 2]!, b[p + 3]!), 16));
          p += 3;
        } else if (c === 0x5c && b[p + 1] !== undefined) {
          p++;
          const e = b[p]!;
          const map: Record<number, number> = {
            0x6e: 0x0a,
            0x72: 0x0d,
            0x74: 0x09,
            0x62: 0x08,
            0x61: 0x07,
          };
          cur.push(map[e] ?? e);
        } else if (c === 0x22) {
          if (b[p + 1] !== undefined && !isSpace(b[p + 1])) {
            throw new Error("closing quote must be followed by a space");
          }
          done = true;
        } else cur.push(c);
      } else if (mode === "sq") {
        if (c === undefined) throw new Error("unbalanced single quotes");
        if (c === 0x5c && b[p + 1] === 0x27) {
          p++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (b[p + 1] !== undefined && !isSpace(b[p + 1])) {
            throw new Error("closing quote must be followed by a space");
          }
          done = true;
        } else cur.push(c);
      } else if (
        c === undefined ||
        c === 0x20 ||
        c === 0x0a ||
        c === 0x0d ||
        c === 0x09 ||
        c === 0x00
      ) {
        done = true;
      } else if (c === 0x22) mode = "dq";
      else if (c === 0x27) mode = "sq";
      else cur.push(c);
      if (p < b.length) p++;
    }
    args.push(new TextDecoder().decode(new Uint8Array(cur)));
  }
}

describe("redis-cli text format", () => {
  it.each([
    ["abc", "abc"],
    ["127.0.0.1", "127.0.0.1"],
    [
      "add:d:1696118400:event~utm_source:purchase~google",
      "add:d:1696118400:event~utm_source:purchase~google",
    ],
    ["99.99", "99.99"],
    ["é😀ａ", "é😀ａ"],
    ["a b", '"a b"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["a\\b", '"a\\\\b"'],
    ["a\nb", '"a\\nb"'],
    ["\x01", '"\\x01"'],
    ["a\x00b", '"a\\x00b"'],
    ["\x7f", '"\\x7f"'],
    ["it's", `"it's"`],
    // An empty argument has to be quoted or redis-cli would drop it.
    ["", '""'],
  ])("quoteArg(%j) is %s", (arg, quoted) => {
    expect(quoteArg(arg)).toBe(quoted);
  });

  it("formatText joins quoted arguments with one space", () => {
    expect(formatText(["ZINCRBY", "top:d:1:city", "1", "new york"])).toBe(
      'ZINCRBY top:d:1:city 1 "new york"',
    );
    expect(formatText(["INCR", "add:d:1:event:purchase"])).toBe(
      "INCR add:d:1:event:purchase",
    );
  });

  it("formatJson writes one JSON array", () => {
    expect(formatJson(["PFADD", "bmp:d:1:ip", 'a "b"'])).toBe(
      '["PFADD","bmp:d:1:ip","a \\"b\\""]',
    );
  });

  it("the reader used below reads quoted text as redis-cli does", () => {
    expect(redisCliSplit('SET "a b" \'c d\' "\\x41\\n" e')).toEqual([
      "SET",
      "a b",
      "c d",
      "A\n",
      "e",
    ]);
  });

  it("redis-cli reads back every command formatText writes", () => {
    const arg = fc.oneof(
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.string({
        unit: fc.constantFrom(
          " ",
          '"',
          "'",
          "\\",
          "\n",
          "\r",
          "\t",
          "\x00",
          "\x7f",
          "\u0085",
          "\u00a0",
          "x",
          "é",
          "😀",
          "x",
        ),
        maxLength: 8,
      }),
    );
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 5 }), (args) => {
        fc.pre(args.every((a) => !/\p{Cs}/u.test(a)));
        const line = formatText(args);
        expect(line).not.toMatch(/[\n\r]/);
        expect(redisCliSplit(line)).toEqual(args);
      }),
      { numRuns: 2000 },
    );
  });
});
