/**
 * Sanitizing strings (SPEC section 2, "Sanitizing a string") and the
 * `event` name, observed through the keys both engines write.
 */
import { describe, expect, it } from "vitest";
import type { ConfigInput } from "../ts/types.js";
import { ENGINES, cmd, ok, rejected, runRaw } from "./helpers.js";

/** 2023-10-01T00:00:00Z; the clock is a few hours later that day. */
const T = 1696118400;
const NOW = (T + 5 * 3600 + 7) * 1000 + 123;

/**
 * The property `v` as each engine sees it: the event
 * `{"event":"e","v":<json>}` against `add: ["v"]`. `null` means absent.
 */
type ValueCase = [name: string, json: string, value: string | null];

const valueCases: ValueCase[] = [
  ["plain", '"hello"', "hello"],
  ["spaces trimmed", '"  hello  "', "hello"],
  ["tabs and line breaks trimmed", '"\\t\\r\\n hello \\n"', "hello"],
  ["U+0085 is white space, trimmed", '"\\u0085hello\\u0085"', "hello"],
  ["raw U+0085 trimmed too", '"\u0085hello\u0085"', "hello"],
  ["U+FEFF is not white space: kept", '"\\ufeffhello"', "\ufeffhello"],
  ["U+FEFF alone is a value", '"\\ufeff"', "\ufeff"],
  ["U+FEFF at the end kept", '"hello\ufeff"', "hello\ufeff"],
  ["U+00A0 and U+3000 trimmed", '"\\u00a0hi\\u3000"', "hi"],
  ["U+2028 and U+2029 trimmed", '"\\u2028hi\\u2029"', "hi"],
  [
    "U+1680 and U+2000..U+200A trimmed",
    '"\\u1680\\u2000\\u200ahi\\u205f\\u202f"',
    "hi",
  ],
  ["U+200B is not white space: kept", '"\\u200bhi"', "\u200bhi"],
  ["U+00A0 inside is kept", '"a\\u00a0b"', "a\u00a0b"],
  ["space inside is kept", '"a b"', "a b"],
  ["the spec's ~hello~world~", '"~hello~world~"', "hello_world"],
  ["the spec's test~event:name", '"test~event:name"', "test_event_name"],
  ["the spec's blank string is absent", '"   "', null],
  ["empty string is absent", '""', null],
  ["only reserved characters is absent", '"~:~"', null],
  ["white space and reserved mixed at the ends", '": ~x~ :"', "x"],
  ["reserved inside white space inside", '"a~ ~b"', "a_ _b"],
  ["tab inside is a control character", '"a\\tb"', "a_b"],
  ["newline inside", '"a\\nb"', "a_b"],
  ["NUL inside", '"a\\u0000b"', "a_b"],
  ["U+001F inside", '"a\\u001fb"', "a_b"],
  ["DEL inside", '"a\\u007fb"', "a_b"],
  ["U+0080 inside", '"a\\u0080b"', "a_b"],
  ["U+0085 inside", '"a\\u0085b"', "a_b"],
  ["U+009F inside", '"a\\u009fb"', "a_b"],
  ["trailing U+00A0 is trimmed, not replaced", '"a\\u00a0"', "a"],
  ["U+001F at the end is trimmed as reserved", '"ab\\u001f"', "ab"],
  ["escaped ~ is a ~", '"a\\u007eb"', "a_b"],
  ["escaped quote and backslash", '"say \\"hi\\" \\\\o/"', 'say "hi" \\o/'],
  ["escaped slash", '"a\\/b"', "a/b"],
  ["emoji kept", '"ab😀cd"', "ab😀cd"],
  ["escaped surrogate pair is one emoji", '"\\ud83d\\ude00"', "😀"],
  ["lone high surrogate", '"a\\ud800b"', "a\ufffdb"],
  ["lone low surrogate", '"\\udc00"', "\ufffd"],
  ["reversed pair: two lone surrogates", '"\\ude00\\ud83d"', "\ufffd\ufffd"],
  ["high surrogate at the end", '"ab\\ud83d"', "ab\ufffd"],
  ["high surrogate then a normal escape", '"\\ud83d\\u0041"', "\ufffdA"],
  ["lone surrogate then a real pair", '"\\ud800\\ud83d\\ude00"', "\ufffd😀"],
  [
    "a long value fits the default limit",
    `"${"x".repeat(512)}"`,
    "x".repeat(512),
  ],
  [
    "the default limit is 512 code points",
    `"${"x".repeat(513)}"`,
    "x".repeat(512),
  ],
  ["512 emoji are 512 code points", `"${"😀".repeat(513)}"`, "😀".repeat(512)],
];

/** Cases with a small `maxValueLength`: [name, max, json, value]. */
const cutCases: [string, number, string, string | null][] = [
  ["the spec's ab😀cd cut to 3", 3, '"ab😀cd"', "ab😀"],
  ["ab😀cd cut to 2", 2, '"ab😀cd"', "ab"],
  ["escaped pair counts as one code point", 3, '"ab\\ud83d\\ude00cd"', "ab😀"],
  ["skin tone modifier counts as a second code point", 1, '"👍🏽"', "👍"],
  ["emoji and modifier fit in 2", 2, '"👍🏽x"', "👍🏽"],
  ["a then emoji cut before the modifier", 2, '"a👍🏽"', "a👍"],
  ["combining mark counts as a code point", 2, '"e\\u0301x"', "e\u0301"],
  ["combining mark cut off", 1, '"e\\u0301x"', "e"],
  ["white space trimmed before cutting", 2, '"   abc"', "ab"],
  ["white space at the cut is trimmed", 2, '"a bc"', "a"],
  ["reserved at the cut is trimmed", 3, '"ab~cd"', "ab"],
  ["reserved inside the cut is replaced", 3, '"a~bcd"', "a_b"],
  // Step 1 trims white space only; reserved characters count until step 3.
  ["leading ~ counts before the cut", 2, '"~abc"', "a"],
  ["leading : counts before the cut", 1, '":abc"', null],
  // U+001F is a control character but not white space; U+000B is both.
  ["leading U+001F is cut to nothing", 1, '"\\u001fa"', null],
  ["leading U+000B is trimmed first", 1, '"\\u000ba"', "a"],
  [
    "lone surrogate counts as one code point",
    2,
    '"\\ud800\\ud800x"',
    "\ufffd\ufffd",
  ],
  ["a length of exactly the limit", 3, '"abc"', "abc"],
  ["U+FEFF counts and stays", 2, '"\\ufeffab"', "\ufeffa"],
];

/** The event name: `{"event":<json>}` against the default `add`. */
type NameCase = [name: string, json: string, max: number, result: string];

const accepted = (name: string) => `name:${name}`;

const nameCases: NameCase[] = [
  ["plain", '"purchase"', 128, accepted("purchase")],
  ["trimmed", '"  purchase\\n"', 128, accepted("purchase")],
  ["reserved replaced", '"a~b:c"', 128, accepted("a_b_c")],
  ["cut to maxFieldLength", '"purchase"', 3, accepted("pur")],
  ["cut by code points", '"😀😀😀😀"', 3, accepted("😀😀😀")],
  ["trimmed after the cut", '"a~bc"', 2, accepted("a")],
  [
    "default maxFieldLength is 128",
    `"${"e".repeat(130)}"`,
    128,
    accepted("e".repeat(128)),
  ],
  ["empty string", '""', 128, "event name cannot be empty"],
  ["blank string", '"  \\t "', 128, "event name cannot be empty"],
  ["only reserved", '"~:~"', 128, "event name cannot be empty"],
  ["empty after the cut", '"~abc"', 1, "event name cannot be empty"],
  ["lone surrogate is a name", '"\\ud800"', 128, accepted("\ufffd")],
];

/** Runs the `v` probe; returns what the engine wrote. */
function probe(
  engine: "wasm" | "ts",
  json: string,
  limits: ConfigInput["limits"] = {},
): string {
  const config: ConfigInput = { mapping: { add: ["v"] }, limits };
  return runRaw(engine, config, `{"event":"e","v":${json}}`, NOW);
}

function expectedValue(value: string | null): string {
  return value === null ? ok() : ok(cmd.incr(`add:d:${T}:v:${value}`));
}

describe.each(ENGINES)("sanitizing, %s engine", (engine) => {
  it.each(valueCases)("%s", (_name, json, value) => {
    expect(probe(engine, json)).toBe(expectedValue(value));
  });

  it.each(cutCases)("%s (maxValueLength %i)", (_name, max, json, value) => {
    expect(probe(engine, json, { maxValueLength: max })).toBe(
      expectedValue(value),
    );
  });

  it("maxFieldLength does not cut values", () => {
    expect(probe(engine, '"abcdef"', { maxFieldLength: 2 })).toBe(
      expectedValue("abcdef"),
    );
  });

  it("maxValueLength does not cut the event name", () => {
    const raw = runRaw(
      engine,
      { limits: { maxValueLength: 2 } },
      '{"event":"abcdef"}',
      NOW,
    );
    expect(raw).toBe(ok(cmd.incr(`add:d:${T}:event:abcdef`)));
  });

  it.each(nameCases)("event name: %s", (_name, json, max, result) => {
    const raw = runRaw(
      engine,
      { limits: { maxFieldLength: max } },
      `{"event":${json}}`,
      NOW,
    );
    const expected = result.startsWith("name:")
      ? ok(cmd.incr(`add:d:${T}:event:${result.slice(5)}`))
      : rejected(result);
    expect(raw).toBe(expected);
  });

  it("the event name in a pattern is cut like the event name", () => {
    const raw = runRaw(
      engine,
      { mapping: { add: ["event~v"] }, limits: { maxFieldLength: 3 } },
      '{"event":"purchase","v":"purchase"}',
      NOW,
    );
    expect(raw).toBe(ok(cmd.incr(`add:d:${T}:event~v:pur~purchase`)));
  });
});
