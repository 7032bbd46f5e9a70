/**
 * Differential tests (SPEC section 7): both engines get the same
 * generated config, NDJSON and clock, and must return the same raw batch,
 * byte for byte. A failure names the config and the first line on which
 * the engines differ, with each engine's output for that line alone.
 *
 * Runs: TRAQQ_FC_SCALE multiplies every numRuns (default 1);
 * TRAQQ_FC_SEED replays a reported seed.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { createEngineSync } from "../ts/node.js";
import type { ConfigInput } from "../ts/types.js";
import {
  configArb,
  eventText,
  lineArb,
  malformedLine,
  namesOf,
  nowMs,
  numberLiteral,
  numericString,
  stringLiteral,
  type LineOptions,
} from "./arbitraries.js";

const SCALE = Number(process.env.TRAQQ_FC_SCALE ?? "1");
const SEED = process.env.TRAQQ_FC_SEED;
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  ...(SEED === undefined ? {} : { seed: Number(SEED) }),
});

/** Runs one engine; a throw is an outcome to compare, not a crash. */
function runOne(
  engine: "wasm" | "ts",
  config: ConfigInput,
  ndjson: string,
  now: number,
): string {
  let e;
  try {
    e = createEngineSync({ config, engine, clock: () => now });
  } catch (err) {
    return `THREW creating the engine: ${String(err)}`;
  }
  try {
    return e.processLines(ndjson, now);
  } catch (err) {
    return `THREW: ${String(err)}`;
  } finally {
    e.free();
  }
}

/** How many records a raw batch holds, read from its documented format. */
function countRecords(raw: string): number {
  const lines = raw.split("\n");
  let n = 0;
  for (let i = 0; i < lines.length - 1; i++) {
    const l = lines[i]!;
    if (l.startsWith("+")) i += Number(l.slice(1));
    else if (l !== "" && !l.startsWith("-")) return -1;
    n++;
  }
  return n;
}

const show = (s: string) => JSON.stringify(s);

/**
 * The check every property makes: equal raw batches, one record per
 * input line, and nothing thrown.
 */
function check(config: ConfigInput, lines: string[], now: number): void {
  const ndjson = lines.join("\n");
  const wasm = runOne("wasm", config, ndjson, now);
  const ts = runOne("ts", config, ndjson, now);
  const where = `config ${JSON.stringify(config)}\nnowMs ${now}`;
  if (wasm !== ts) {
    for (const line of lines) {
      const w = runOne("wasm", config, line, now);
      const t = runOne("ts", config, line, now);
      if (w !== t) {
        throw new Error(
          `engines differ\n${where}\nline ${show(line)}\n` +
            `wasm ${show(w)}\nts   ${show(t)}`,
        );
      }
    }
    throw new Error(
      `engines differ on the batch but on no line alone\n${where}\n` +
        `lines ${show(ndjson)}\nwasm ${show(wasm)}\nts   ${show(ts)}`,
    );
  }
  if (wasm.startsWith("THREW")) {
    throw new Error(`both engines threw\n${where}\n${wasm}`);
  }
  // A final "\n" does not start a line (docs/semantics.md).
  const parts = ndjson.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  const expected = parts.length;
  if (countRecords(wasm) !== expected) {
    throw new Error(
      `${countRecords(wasm)} records for ${expected} lines\n${where}\n` +
        `lines ${show(ndjson)}\noutput ${show(wasm)}`,
    );
  }
}

/** A config and lines that favour the property names it reads. */
function withLines<T>(
  configs: fc.Arbitrary<ConfigInput>,
  lines: (opts: LineOptions) => fc.Arbitrary<T>,
): fc.Arbitrary<[ConfigInput, T]> {
  return configs.chain((config) =>
    fc.tuple(fc.constant(config), lines({ names: namesOf(config) })),
  );
}

describe("wasm and ts engines agree", () => {
  it("on generated configs and batches of events", () => {
    fc.assert(
      fc.property(
        withLines(configArb(), (opts) =>
          fc.array(lineArb(opts), { minLength: 1, maxLength: 24 }),
        ),
        nowMs,
        ([config, lines], now) => check(config, lines, now),
      ),
      params(6000),
    );
  });

  it("on small limits: cuts, empty names, too many commands", () => {
    const value = fc.oneof(stringLiteral, numberLiteral, numericString);
    const line = fc
      .tuple(
        fc.oneof(
          fc.constantFrom('"purchase"', '"😀👍🏽e\\u0301"', '" ~a~ "'),
          stringLiteral,
        ),
        fc.array(
          fc.tuple(
            fc.constantFrom(
              "a",
              "b",
              "ip",
              "utm_source",
              "amount",
              "é",
              "😀",
              "ａ",
              "Z",
            ),
            value,
          ),
          { maxLength: 6 },
        ),
      )
      .map(
        ([ev, ms]) =>
          `{"event":${ev}${ms.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join("")}}`,
      );
    fc.assert(
      fc.property(
        configArb({ smallLimits: true }),
        fc.array(line, { minLength: 1, maxLength: 20 }),
        nowMs,
        check,
      ),
      params(3000),
    );
  });

  it("on event times around DST changes, hourly buckets on", () => {
    fc.assert(
      fc.property(
        withLines(configArb({ timeFocus: true }), (opts) =>
          fc.array(eventText({ ...opts, timeFocus: true }), {
            minLength: 1,
            maxLength: 24,
          }),
        ),
        nowMs,
        ([config, lines], now) => check(config, lines, now),
      ),
      params(4000),
    );
  });

  it("on every truncation of a valid line", () => {
    fc.assert(
      fc.property(
        withLines(configArb(), (opts) => eventText({ ...opts, short: true })),
        nowMs,
        ([config, line], now) => {
          const prefixes = Array.from({ length: line.length + 1 }, (_, i) =>
            line.slice(0, i),
          );
          check(config, prefixes.slice(1), now);
        },
      ),
      params(1500),
    );
  });

  it("on malformed lines", () => {
    fc.assert(
      fc.property(
        configArb(),
        fc.array(malformedLine(), { minLength: 1, maxLength: 24 }),
        nowMs,
        check,
      ),
      params(1500),
    );
  });
});
