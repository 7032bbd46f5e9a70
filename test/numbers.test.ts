/**
 * Numbers and booleans as property values (SPEC section 2, "Numbers and
 * booleans as values"; docs/semantics.md "Properties").
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConfigInput, EngineName } from "../ts/types.js";
import { ENGINES, cmd, ok, runRaw } from "./helpers.js";

const T = 1696118400;
const NOW = T * 1000;

/** [literal in the JSON text, the value written, or null for absent]. */
const literals: [string, string | null][] = [
  // Integer literals keep their digits.
  ["2868860079149422351", "2868860079149422351"],
  ["-2868860079149422351", "-2868860079149422351"],
  ["9007199254740993", "9007199254740993"],
  ["123456789012345678901234567890", "123456789012345678901234567890"],
  ["0", "0"],
  ["-0", "0"],
  ["42", "42"],
  ["-5", "-5"],
  // Every other literal is String() of the double it parses to.
  ["1.0", "1"],
  ["100.0", "100"],
  ["-0.0", "0"],
  ["0.0", "0"],
  ["0e0", "0"],
  ["-0e5", "0"],
  ["99.99", "99.99"],
  ["-5.50", "-5.5"],
  ["0.1", "0.1"],
  ["0.30000000000000004", "0.30000000000000004"],
  ["1e21", "1e+21"],
  ["1e20", "100000000000000000000"],
  ["1E2", "100"],
  ["1e+2", "100"],
  ["0.1e1", "1"],
  ["1.005e3", "1005"],
  ["5e-7", "5e-7"],
  ["1e-7", "1e-7"],
  ["0.000001", "0.000001"],
  ["123e-20", "1.23e-18"],
  ["1.5e300", "1.5e+300"],
  ["-1.5E+300", "-1.5e+300"],
  ["9007199254740993.0", "9007199254740992"],
  ["123456789.123456789", "123456789.12345679"],
  ["12345678901234567890.5", "12345678901234567000"],
  ["2.2250738585072014e-308", "2.2250738585072014e-308"],
  ["5e-324", "5e-324"],
  ["2.5e-324", "5e-324"],
  ["2.4e-324", "0"],
  ["1e-400", "0"],
  ["-1e-400", "0"],
  ["1.7976931348623157e308", "1.7976931348623157e+308"],
  ["1.7976931348623158e308", "1.7976931348623157e+308"],
  // Overflowing literals make the property absent.
  ["1e400", null],
  ["-1e400", null],
  ["1e309", null],
  ["1.7976931348623159e308", null],
  ["123456789e301", null],
  // Booleans; null and arrays are ignored.
  ["true", "true"],
  ["false", "false"],
  ["null", null],
  ["[]", null],
  ["[1,2]", null],
  ['["x"]', null],
  ['[{"a":1}]', null],
  ["{}", null],
];

function probe(
  engine: EngineName,
  literal: string,
  limits: ConfigInput["limits"] = {},
): string {
  const config: ConfigInput = { mapping: { add: ["event", "v"] }, limits };
  return runRaw(engine, config, `{"event":"e","v":${literal}}`, NOW);
}

/** The event is always counted; `v` only when present. */
function expected(value: string | null): string {
  const event = cmd.incr(`add:d:${T}:event:e`);
  if (value === null) return ok(event);
  return ok(event, cmd.incr(`add:d:${T}:v:${value}`));
}

describe("the number table itself", () => {
  // Guards the table above against typos: every non-integer literal's
  // value must be what JavaScript's String() gives, as the spec says.
  it.each(literals.filter(([l]) => /^-?\d/.test(l) && /[.eE]/.test(l)))(
    "%s",
    (literal, value) => {
      const n = Number(literal);
      expect(Number.isFinite(n) ? String(n) : null).toBe(value);
    },
  );
});

describe.each(ENGINES)("numbers and booleans, %s engine", (engine) => {
  it.each(literals)("%s", (literal, value) => {
    expect(probe(engine, literal)).toBe(expected(value));
  });

  it.each([
    ["123456", "123456"],
    ["1.5e300", "1.5e+300"],
    ["-2868860079149422351", "-2868860079149422351"],
    ["true", "true"],
    ["false", "false"],
  ])("%s is not cut to maxValueLength", (literal, value) => {
    expect(probe(engine, literal, { maxValueLength: 2 })).toBe(expected(value));
  });

  it("an overflowing literal leaves the rest of the event intact", () => {
    const raw = runRaw(
      engine,
      { mapping: { add: ["event", "a", "v", "b"] } },
      '{"event":"e","a":1,"v":1e400,"b":2}',
      NOW,
    );
    expect(raw).toBe(
      ok(
        cmd.incr(`add:d:${T}:event:e`),
        cmd.incr(`add:d:${T}:a:1`),
        cmd.incr(`add:d:${T}:b:2`),
      ),
    );
  });

  it("numbers and booleans in a multi-property pattern", () => {
    const raw = runRaw(
      engine,
      { mapping: { add: ["a~b~c"] } },
      '{"event":"e","a":-0,"b":true,"c":1e21}',
      NOW,
    );
    expect(raw).toBe(ok(cmd.incr(`add:d:${T}:a~b~c:0~true~1e+21`)));
  });
});

/** A JSON number literal, written in many ways. */
const literal = fc
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
            fc.integer({ min: 0, max: 30 }),
            fc.integer({ min: 290, max: 330 }),
            fc.integer({ min: 0, max: 999 }),
          ),
        )
        .map(([e, s, n]) => `${e}${s}${n}`),
      { nil: "" },
    ),
  )
  .map(([sign, int, frac, exp]) => sign + int + frac + exp);

/** What the spec says a literal becomes: digits, String(), or absent. */
function specValue(lit: string): string | null {
  if (!/[.eE]/.test(lit)) return lit === "-0" ? "0" : lit;
  const n = Number(lit);
  return Number.isFinite(n) ? String(n) : null;
}

describe.each(ENGINES)("generated number literals, %s engine", (engine) => {
  it("every literal is written as the spec says", () => {
    fc.assert(
      fc.property(
        fc.array(literal, { minLength: 1, maxLength: 60 }),
        (lits) => {
          const ndjson = lits.map((l) => `{"event":"e","v":${l}}`).join("\n");
          const raw = runRaw(engine, { mapping: { add: ["v"] } }, ndjson, NOW);
          const want = lits
            .map((l) => {
              const v = specValue(l);
              return v === null ? ok() : ok(cmd.incr(`add:d:${T}:v:${v}`));
            })
            .join("");
          if (raw !== want) {
            const got = raw.split("\n");
            const exp = want.split("\n");
            const i = got.findIndex((line, k) => line !== exp[k]);
            throw new Error(
              `literals ${JSON.stringify(lits)}: first difference at raw line ${i}: ` +
                `got ${JSON.stringify(got[i])}, want ${JSON.stringify(exp[i])}`,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
