/**
 * Bad input a tester found, pinned: each case once broke an engine, split
 * the two engines, or was accepted where it had to be refused.
 */
import { describe, expect, it } from "vitest";

import {
  ConfigError,
  createEngineSync,
  openMemoryStore,
  query,
  type ConfigInput,
} from "../ts/node.js";

const ENGINES = ["wasm", "ts"] as const;

describe.each(ENGINES)("%s engine", (engine) => {
  it.each([
    [
      { limits: { maxValueLength: 4294967296 } },
      "limits.maxValueLength: must be at most 1000000000",
    ],
    [
      { limits: { maxFieldLength: 9007199254740991 } },
      "limits.maxFieldLength: must be at most 1000000000",
    ],
    [
      { mapping: { add: ["a\ud800b"] } },
      'mapping.add[0]: pattern "a\\ud800b": property name "a\\ud800b" holds a lone surrogate',
    ],
    [{ prefix: "p\udc00" }, "prefix: holds a lone surrogate"],
  ])(
    "refuses the config %j with a message naming the field",
    (config, message) => {
      expect(() =>
        createEngineSync({ config: config as ConfigInput, engine }),
      ).toThrow(new ConfigError(message));
    },
  );

  it("gives no amount for an integer too long for a double", () => {
    const e = createEngineSync({
      config: {
        mapping: { add: [], addValue: [{ key: "event", addKey: "n" }] },
      },
      engine,
    });
    const huge = "9".repeat(401);
    const out = e.process(
      [
        `{"event":"a","n":${huge}}`,
        `{"event":"a","n":"${huge}"}`,
        `{"event":"a","n":12}`,
      ],
      0,
    );
    expect(out).toEqual([
      { ok: true, commands: [] },
      { ok: true, commands: [] },
      { ok: true, commands: [["INCRBYFLOAT", "adv:d:0:n:event:a", "12"]] },
    ]);
  });

  it("rejects an event JSON cannot write, and only that one", () => {
    const e = createEngineSync({ config: {}, engine });
    const cyclic: Record<string, unknown> = { event: "c" };
    cyclic.self = cyclic;
    const out = e.process(
      [{ event: "a" }, { event: "b", n: 10n }, cyclic, { event: "d" }],
      0,
    );
    expect(out.map((r) => r.ok)).toEqual([true, false, false, true]);
    expect(out[1]).toMatchObject({
      error: expect.stringMatching(
        /^event cannot be written as JSON: .*BigInt/,
      ),
    });
  });

  it("says what is wrong with a processing time that is not a number", () => {
    const e = createEngineSync({ config: {}, engine });
    expect(() => e.process({ event: "a" }, "abc" as unknown as number)).toThrow(
      "processing time must be a finite number of milliseconds, got abc",
    );
  });

  it("refuses to run after free()", () => {
    const e = createEngineSync({ config: {}, engine });
    e.free();
    expect(() => e.process({ event: "a" }, 0)).toThrow(
      "engine used after free()",
    );
  });
});

describe("queries", () => {
  const config: ConfigInput = {
    mapping: {
      bitmap: ["u"],
      add: ["event"],
      addValue: [{ key: "event", addKey: "amount" }],
    },
  };
  const engine = createEngineSync({ config });
  const ask = async (q: Record<string, unknown>) => {
    const store = await openMemoryStore();
    return query({ config: engine.config, store }, {
      from: 0,
      to: 86400,
      ...q,
    } as never);
  };

  it.each([
    [
      { metric: "add", pattern: "nope" },
      'pattern: "nope" is not in mapping.add',
    ],
    [
      { metric: "adv", pattern: "event", addKey: "nope" },
      'addKey: "event" sums amount, not "nope"',
    ],
    [
      { metric: "adv", pattern: "event" },
      "addKey: required for adv (configured: amount)",
    ],
    [
      { metric: "add", pattern: "event", addKey: "amount" },
      "addKey: only for adv",
    ],
    [
      { metric: "bmp", pattern: "u", top: 3 },
      "top, values, prefix: a unique count has no values to pick from",
    ],
    [
      { metric: "add", pattern: "event", range: "today" },
      "range: give a named range or from and to, not both",
    ],
  ])("refuse %j", async (q, message) => {
    await expect(ask(q)).rejects.toThrow(message);
  });
});
