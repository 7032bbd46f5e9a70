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
  record,
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

  it("refuses a property name nested more than 32 levels deep", () => {
    const deep = Array(33).fill("a").join(".");
    expect(() =>
      createEngineSync({
        config: { mapping: { add: [`event~${deep}`] } },
        engine,
      }),
    ).toThrow(
      new ConfigError(
        `mapping.add[0]: pattern "event~${deep}": property name "${deep}" nests more than 32 levels deep`,
      ),
    );
    // 32 levels are read, from an event nested that deep.
    const ok = Array(32).fill("a").join(".");
    const e = createEngineSync({ config: { mapping: { add: [ok] } }, engine });
    const line =
      '{"event":"x","a":' + '{"a":'.repeat(31) + '"v"' + "}".repeat(31) + "}";
    expect(e.process(line, 0)).toEqual([
      { ok: true, commands: [["INCR", `add:d:0:${ok}:v`]] },
    ]);
  });

  it("rejects an event whose commands pass 1 MiB, and only that one", () => {
    // 999 patterns over 99 values of 512 characters: about 51 MB a line.
    const parts = Array.from({ length: 99 }, (_, i) => `p${i}`);
    const add = Array.from({ length: 999 }, (_, k) =>
      [...parts, `q${k}`].join("~"),
    );
    const big: Record<string, unknown> = { event: "e" };
    for (const p of parts) big[p] = "é".repeat(512);
    for (let k = 0; k < 999; k++) big[`q${k}`] = 1;
    const e = createEngineSync({ config: { mapping: { add } }, engine });
    const out = e.process([big, { event: "small", q0: 1 }, big], 0);
    expect(out.map((r) => r.ok)).toEqual([false, true, false]);
    expect(out[0]).toEqual({
      ok: false,
      error: "event produces more than 1048576 bytes of commands",
    });
    // Just under the bound in UTF-8 (not in UTF-16 units) is kept.
    const recordOf = (v: string) => `+1\nINCR\x1fadd:d:0:event~v:e~${v}\n`;
    const room = 1048576 - Buffer.byteLength(recordOf(""));
    const fits = "€".repeat(Math.floor(room / 3)) + "a".repeat(room % 3);
    expect(Buffer.byteLength(recordOf(fits))).toBe(1048576);
    const limits = { maxValueLength: 1_000_000 };
    const e3 = createEngineSync({
      config: { mapping: { add: ["event~v"] }, limits },
      engine,
    });
    expect(e3.processLines(JSON.stringify({ event: "e", v: fits }), 0)).toBe(
      recordOf(fits),
    );
    expect(e3.process({ event: "e", v: fits + "€" }, 0)).toEqual([
      {
        ok: false,
        error: "event produces more than 1048576 bytes of commands",
      },
    ]);
  });

  it("gives one result per element, a blank string included", () => {
    const e = createEngineSync({ config: {}, engine });
    expect(e.process(["", " \t", '{"event":"z"}'], 0)).toEqual([
      { ok: false, error: "event must be a JSON object" },
      { ok: false, error: "event must be a JSON object" },
      { ok: true, commands: [["INCR", "add:d:0:event:z"]] },
    ]);
  });

  it("refuses to run after free()", () => {
    const e = createEngineSync({ config: {}, engine });
    e.free();
    expect(() => e.process({ event: "a" }, 0)).toThrow(
      "engine used after free()",
    );
  });
});

describe("a query over instants inside buckets", () => {
  it("answers whole buckets and says which span they cover", async () => {
    const config: ConfigInput = {
      time: {
        timezone: "America/New_York",
        storeHourly: true,
        eventTimeField: "t",
      },
    };
    const engine = createEngineSync({ config });
    const store = await openMemoryStore();
    // One event every 10 minutes on 2024-11-02 (local).
    const day = Date.parse("2024-11-02T00:00:00-04:00") / 1000;
    await record(
      Array.from({ length: 144 }, (_, i) => ({ event: "e", t: day + i * 600 })),
      { engine, store },
    );
    const ask = (by: "day" | "hour" | "total") =>
      query(
        { config: engine.config, store },
        {
          metric: "add",
          pattern: "event",
          by,
          from: "2024-11-02T12:00:00Z",
          to: "2024-11-02T13:00:00Z",
        },
      );
    const total = await ask("total");
    expect([total.from, total.to]).toEqual([day, day + 86400]);
    expect(total.totals).toEqual([["e", 144]]);
    const hours = await ask("hour");
    expect([hours.from, hours.to]).toEqual([day + 8 * 3600, day + 9 * 3600]);
    expect(hours.totals).toEqual([["e", 6]]);
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
      { metric: "add", pattern: "event", from: 5, to: 5 },
      "to: the range is empty (it ends where it starts)",
    ],
    [
      { metric: "add", pattern: "event", from: 5, to: 4 },
      "to: the range ends before it starts",
    ],
    [
      { metric: "add", pattern: "event", range: "today" },
      "range: give a named range or from and to, not both",
    ],
  ])("refuse %j", async (q, message) => {
    await expect(ask(q)).rejects.toThrow(message);
  });
});
