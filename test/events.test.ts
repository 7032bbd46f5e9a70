/**
 * Reading events (SPEC section 2; docs/semantics.md "Lines and batches",
 * "Rejection reasons" and "Properties"): the JSON text, the `event`
 * field, flattening, duplicate keys, and how lines map to records.
 */
import { describe, expect, it } from "vitest";
import type { ConfigInput } from "../ts/types.js";
import { BLANK, ENGINES, cmd, ok, rejected, runRaw } from "./helpers.js";

const T = 1696118400;
const NOW = T * 1000;

const EOF_ = "invalid JSON: unexpected end of input";
const SYNTAX = "invalid JSON: syntax error";
const NOT_OBJECT = "event must be a JSON object";
const MISSING = "missing required 'event' field";
const NOT_STRING = "'event' field must be a string";
const EMPTY = "event name cannot be empty";

const counted = (name: string) => ok(cmd.incr(`add:d:${T}:event:${name}`));

/** [name, line, expected record] against the default config. */
const lineCases: [string, string, string][] = [
  ["a plain event", '{"event":"a"}', counted("a")],
  ["white space around the object", ' \t{ "event" : "a" }\t ', counted("a")],
  ["a CRLF line end", '{"event":"a"}\r', counted("a")],
  [
    "other properties are fine",
    '{"event":"a","x":[1,{"y":null}],"z":{}}',
    counted("a"),
  ],
  // truncated lines
  ["an opening brace", "{", rejected(EOF_)],
  ["cut after a key", '{"event"', rejected(EOF_)],
  ["cut after the colon", '{"event":', rejected(EOF_)],
  ["cut inside a string", '{"event":"a', rejected(EOF_)],
  ["cut after a value", '{"event":"a"', rejected(EOF_)],
  ["cut after a comma", '{"event":"a",', rejected(EOF_)],
  ["cut inside an escape", '{"event":"a\\u12', rejected(EOF_)],
  ["cut inside a nested object", '{"event":"a","x":{"y":1', rejected(EOF_)],
  ["cut inside true", '{"event":"a","x":tr', rejected(EOF_)],
  // Cut inside a number is a syntax error, as serde_json reports it.
  ["cut after a decimal point", '{"event":"a","x":1.', rejected(SYNTAX)],
  ["cut after an exponent mark", '{"event":"a","x":1e', rejected(SYNTAX)],
  ["cut after a minus sign", '{"event":"a","x":-', rejected(SYNTAX)],
  // syntax errors
  ["a trailing comma", '{"event":"a",}', rejected(SYNTAX)],
  [
    "a trailing comma in a skipped array",
    '{"event":"a","x":[1,]}',
    rejected(SYNTAX),
  ],
  [
    "a leading zero in a skipped property",
    '{"event":"a","x":01}',
    rejected(SYNTAX),
  ],
  ["a bad escape", '{"event":"a\\q"}', rejected(SYNTAX)],
  ["a short \\u escape", '{"event":"a\\u12"}', rejected(SYNTAX)],
  ["a raw tab inside a string", '{"event":"a\tb"}', rejected(SYNTAX)],
  [
    "a raw control character inside a string",
    '{"event":"a\u0001"}',
    rejected(SYNTAX),
  ],
  [
    "a raw control character in a key",
    '{"event":"a","k\u0001":1}',
    rejected(SYNTAX),
  ],
  ["single quotes", "{'event':'a'}", rejected(SYNTAX)],
  ["an unquoted key", '{event:"a"}', rejected(SYNTAX)],
  ["NaN", '{"event":"a","x":NaN}', rejected(SYNTAX)],
  ["Infinity", '{"event":"a","x":Infinity}', rejected(SYNTAX)],
  ["a leading plus", '{"event":"a","x":+1}', rejected(SYNTAX)],
  ["a leading dot", '{"event":"a","x":.5}', rejected(SYNTAX)],
  ["a bare minus", '{"event":"a","x":-}', rejected(SYNTAX)],
  ["trailing text", '{"event":"a"} x', rejected(SYNTAX)],
  ["a second object", '{"event":"a"}{"event":"b"}', rejected(SYNTAX)],
  ["an extra closing brace", '{"event":"a"}}', rejected(SYNTAX)],
  [
    "a byte order mark before the object",
    '\ufeff{"event":"a"}',
    rejected(SYNTAX),
  ],
  ["a line of U+00A0 (not JSON white space)", "\u00a0", rejected(SYNTAX)],
  [
    "a syntax error beats a bad event field",
    '{"event":5,"x":tru}',
    rejected(SYNTAX),
  ],
  ["a cut line beats a bad event field", '{"event":5', rejected(EOF_)],
  ["a cut line beats a missing event", '{"x":1', rejected(EOF_)],
  // not an object
  ["an array", "[1,2]", rejected(NOT_OBJECT)],
  // A line is checked as JSON first (docs/semantics.md).
  ["an array cut short", "[1,2", rejected(EOF_)],
  ["an array then text", "[1,2] x", rejected(SYNTAX)],
  ["a number then another", "42 43", rejected(SYNTAX)],
  ["a string", '"x"', rejected(NOT_OBJECT)],
  ["a number", "42", rejected(NOT_OBJECT)],
  ["null", "null", rejected(NOT_OBJECT)],
  ["true", "true", rejected(NOT_OBJECT)],
  // the event field
  ["no event", '{"x":"a"}', rejected(MISSING)],
  ["an empty object", "{}", rejected(MISSING)],
  ["event null", '{"event":null}', rejected(MISSING)],
  ["event an array", '{"event":["a"]}', rejected(MISSING)],
  ["event a number", '{"event":5}', rejected(NOT_STRING)],
  ["event a boolean", '{"event":true}', rejected(NOT_STRING)],
  ["event an object", '{"event":{"name":"a"}}', rejected(NOT_STRING)],
  ["event an empty object", '{"event":{}}', rejected(NOT_STRING)],
  ["event only nested", '{"x":{"event":"a"}}', rejected(MISSING)],
  ["a dotted key is not event", '{"event.x":"a"}', rejected(MISSING)],
  ["event empty", '{"event":""}', rejected(EMPTY)],
  ["event blank", '{"event":" \\u0085 "}', rejected(EMPTY)],
  ["event escaped in the key", '{"ev\\u0065nt":"a"}', counted("a")],
  ["the last event wins", '{"event":"a","event":"b"}', counted("b")],
  [
    "a later null erases event",
    '{"event":"a","event":null}',
    rejected(MISSING),
  ],
  ["a later string replaces null", '{"event":null,"event":"b"}', counted("b")],
  ["a later string replaces a number", '{"event":5,"event":"b"}', counted("b")],
  [
    "a later number replaces a string",
    '{"event":"b","event":5}',
    rejected(NOT_STRING),
  ],
  [
    "skipped properties may hold anything valid",
    '{"event":"a","z":1e400,"y":"\\ud800","x":-0}',
    counted("a"),
  ],
];

/** [name, pattern list, line, expected commands' keys after `add:d:T:`]. */
const propertyCases: [string, string[], string, string[]][] = [
  [
    "nested object flattened",
    ["device.type"],
    '{"event":"e","device":{"type":"mobile"}}',
    ["device.type:mobile"],
  ],
  ["three levels", ["a.b.c"], '{"event":"e","a":{"b":{"c":"x"}}}', ["a.b.c:x"]],
  [
    "an object is not a value",
    ["device"],
    '{"event":"e","device":{"type":"mobile"}}',
    [],
  ],
  [
    "an empty key gives a name ending in '.'",
    ["a."],
    '{"event":"e","a":{"":"x"}}',
    ["a.:x"],
  ],
  [
    "arrays are not walked",
    ["a.b", "a.0.b"],
    '{"event":"e","a":[{"b":1}]}',
    [],
  ],
  [
    "dotted key after object: the later wins",
    ["a.b"],
    '{"event":"e","a":{"b":1},"a.b":2}',
    ["a.b:2"],
  ],
  [
    "object after dotted key: the later wins",
    ["a.b"],
    '{"event":"e","a.b":2,"a":{"b":1}}',
    ["a.b:1"],
  ],
  ["duplicate key: last wins", ["a"], '{"event":"e","a":1,"a":2}', ["a:2"]],
  ["a later null makes it absent", ["a"], '{"event":"e","a":1,"a":null}', []],
  ["a later array makes it absent", ["a"], '{"event":"e","a":"x","a":[1]}', []],
  [
    "a later value replaces null",
    ["a"],
    '{"event":"e","a":null,"a":"y"}',
    ["a:y"],
  ],
  [
    "later objects add names",
    ["a.b~a.c"],
    '{"event":"e","a":{"b":1},"a":{"c":2}}',
    ["a.b~a.c:1~2"],
  ],
  [
    "a later object replaces a name it repeats",
    ["a.b"],
    '{"event":"e","a":{"b":1},"a":{"b":3}}',
    ["a.b:3"],
  ],
  [
    "a later nested null erases that name",
    ["a.b"],
    '{"event":"e","a":{"b":1},"a":{"b":null}}',
    [],
  ],
  [
    "duplicates inside a nested object",
    ["a.b"],
    '{"event":"e","a":{"b":1,"b":"z"}}',
    ["a.b:z"],
  ],
  ["keys are unescaped", ["v"], '{"event":"e","\\u0076":"y"}', ["v:y"]],
  [
    "a lone surrogate in a key is U+FFFD",
    ["k\ufffd"],
    '{"event":"e","k\\ud800":"y"}',
    ["k\ufffd:y"],
  ],
  [
    "an escaped pair in a key is one character",
    ["😀"],
    '{"event":"e","\\ud83d\\ude00":"y"}',
    ["😀:y"],
  ],
  [
    "unescaped non-ASCII keys",
    ["é.ａ"],
    '{"event":"e","é":{"ａ":"y"}}',
    ["é.ａ:y"],
  ],
  [
    "the event name inside a pattern",
    ["event~a.b"],
    '{"a":{"b":"x"},"event":"e"}',
    ["a.b~event:x~e"],
  ],
];

describe.each(ENGINES)("events, %s engine", (engine) => {
  it.each(lineCases)("%s", (_name, line, record) => {
    expect(runRaw(engine, {}, line, NOW)).toBe(record);
  });

  it.each(propertyCases)("%s", (_name, add, line, keys) => {
    const config: ConfigInput = { mapping: { add } };
    expect(runRaw(engine, config, line, NOW)).toBe(
      ok(...keys.map((k) => cmd.incr(`add:d:${T}:${k}`))),
    );
  });
});

describe.each(ENGINES)("lines and batches, %s engine", (engine) => {
  const run = (ndjson: string) => runRaw(engine, {}, ndjson, NOW);

  it("empty input gives no records", () => {
    expect(run("")).toBe("");
  });

  it("a final newline does not start a line", () => {
    expect(run('{"event":"a"}\n')).toBe(counted("a"));
    expect(run('{"event":"a"}')).toBe(counted("a"));
  });

  it("one newline is one blank line", () => {
    expect(run("\n")).toBe(BLANK);
    expect(run("\n\n")).toBe(BLANK + BLANK);
  });

  it("lines of JSON white space are blank, not rejected", () => {
    expect(run(" \n\t\n\r\n \t\r ")).toBe(BLANK.repeat(4));
  });

  it("one record per line, in order, whatever each holds", () => {
    const ndjson = [
      '{"event":"a"}',
      "",
      "{",
      "[1]",
      '{"event":"b"}',
      "   ",
      '{"x":1}',
      '{"event":"c"}',
    ].join("\n");
    expect(run(ndjson + "\n")).toBe(
      counted("a") +
        BLANK +
        rejected(EOF_) +
        rejected(NOT_OBJECT) +
        counted("b") +
        BLANK +
        rejected(MISSING) +
        counted("c"),
    );
  });

  it("a bad line does not disturb the next", () => {
    const bad = [
      '{"event":"a\\ud800',
      '{"event":"',
      '{"a":{"b":{"c":',
      "\u0000",
    ];
    for (const b of bad) {
      const raw = run(`${b}\n{"event":"ok"}`);
      expect(raw.startsWith("-"), raw).toBe(true);
      expect(raw.slice(raw.indexOf("\n") + 1)).toBe(counted("ok"));
    }
  });

  it("CRLF input: each \\r is white space at the end of a line", () => {
    expect(run('{"event":"a"}\r\n\r\n{"event":"b"}\r\n')).toBe(
      counted("a") + BLANK + counted("b"),
    );
  });

  it("raw lone surrogates in the text are U+FFFD", () => {
    const raw = runRaw(
      engine,
      { mapping: { add: ["v"] } },
      '{"event":"e","v":"a\ud800b"}\n{"event":"e","v":"\udc00"}',
      NOW,
    );
    expect(raw).toBe(
      ok(cmd.incr(`add:d:${T}:v:a\ufffdb`)) +
        ok(cmd.incr(`add:d:${T}:v:\ufffd`)),
    );
  });
});
