/**
 * The stores against real servers: the memory store, one Redis server and
 * a three-master Cluster (started by test/global-setup.ts), in both
 * layouts, must hold the same counters for the same input.
 */
import { Redis } from "ioredis";
import calculateSlot from "cluster-key-slot";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import {
  createEngineSync,
  ingest,
  openMemoryStore,
  query,
  record,
  RedisStore,
  type ConfigInput,
  type Engine,
  type Layout,
  type OpFailure,
  type QueryResult,
  type Store,
} from "../ts/node.js";
import { BatchPlanner } from "../ts/store/plan.js";
import { startRedis } from "../bench/servers.js";

const DAY0 = Date.UTC(2024, 10, 1) / 1000; // 2024-11-01, in the New York DST week

const config: ConfigInput = {
  time: {
    timezone: "America/New_York",
    storeHourly: true,
    eventTimeField: "ts",
  },
  mapping: {
    bitmap: ["user", "country~event"],
    add: ["event", "event~country", "page"],
    addValue: [
      { key: "event", addKey: "amount" },
      { key: "country", addKey: "amount" },
    ],
    top: ["page"],
  },
};

/** A deterministic mix of events over five days around the fall-back night. */
function events(n: number, seed = 7): string {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  let out = "";
  for (let i = 0; i < n; i++) {
    const e = {
      event: pick(["view", "click", "buy"]),
      country: pick(["US", "DE", "FR", "BR", "JP"]),
      page: pick(["/", "/a", "/b", "/pricing", "/docs"]),
      user: `u${Math.floor(rnd() * 400)}`,
      amount: pick([1, 2.5, "0.25", 10, "x"]),
      ts: DAY0 + Math.floor(rnd() * 5 * 86400),
    };
    out += JSON.stringify(e) + "\n";
  }
  return out;
}

function bytes(text: string): AsyncIterable<Uint8Array> {
  const buf = Buffer.from(text);
  return (async function* () {
    for (let i = 0; i < buf.length; i += 65536)
      yield buf.subarray(i, i + 65536);
  })();
}

const QUERIES = [
  { metric: "add", pattern: "event" },
  { metric: "add", pattern: "country~event" },
  { metric: "add", pattern: "page" },
  { metric: "adv", pattern: "event", addKey: "amount" },
  { metric: "adv", pattern: "country", addKey: "amount" },
  { metric: "top", pattern: "page" },
  { metric: "bmp", pattern: "user" },
  { metric: "bmp", pattern: "event~country" },
] as const;

/** Everything a user could ask of the stored data, by day, hour and total. */
async function readAll(
  store: Store,
  engine: Engine,
  layout: Layout,
): Promise<QueryResult[]> {
  const ctx = { config: engine.config, store, layout };
  const out: QueryResult[] = [];
  for (const q of QUERIES) {
    for (const by of ["day", "hour", "total"] as const) {
      out.push(
        await query(ctx, { ...q, from: "2024-10-31", to: "2024-11-05", by }),
      );
    }
  }
  return out;
}

/** Float sums are exact decimals in memory and long doubles in Redis. */
function rounded(results: QueryResult[]): unknown {
  return JSON.parse(
    JSON.stringify(results, (_k, v) =>
      typeof v === "number" ? Math.round(v * 1e6) / 1e6 : v,
    ),
  );
}

/** Every event name's count on the day that starts at unix time 0. */
const EVENTS_ON_DAY_0 = {
  metric: "add",
  pattern: "event",
  from: 0,
  to: 1,
  by: "total",
} as const;

describe("stores", () => {
  const redisUrl = inject("redisUrl");
  const clusterHosts = inject("clusterHosts");
  const input = events(6000);
  const opened: Store[] = [];

  async function open(
    kind: string,
    layout: Layout,
    prefix: string,
  ): Promise<Store> {
    const style = { prefix, layout };
    const store =
      kind === "memory"
        ? await openMemoryStore()
        : kind === "redis"
          ? new RedisStore({ url: redisUrl, style })
          : new RedisStore({ cluster: clusterHosts, style });
    opened.push(store);
    return store;
  }

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });

  it("hold the same counters in every store and layout", async () => {
    const answers: unknown[] = [];
    for (const kind of ["memory", "redis", "cluster"]) {
      for (const layout of ["flat", "hash"] as const) {
        const prefix = `same-${kind}-${layout}`;
        const engine = createEngineSync({ config: { ...config, prefix } });
        const store = await open(kind, layout, prefix);
        const stats = await ingest(bytes(input), {
          engine,
          store,
          layout,
          batchLines: 700,
        });
        expect(stats.accepted).toBe(6000);
        expect(stats.failedOps).toBe(0);
        answers.push(rounded(await readAll(store, engine, layout)));
      }
    }
    // Sanity: the answers are not empty, and every store agrees.
    const first = answers[0] as QueryResult[];
    expect(first[0]!.totals.reduce((a, [, n]) => a + n, 0)).toBe(6000);
    for (const a of answers.slice(1)) expect(a).toEqual(answers[0]);
  });

  it("merge equal increments within a batch", async () => {
    const engine = createEngineSync({
      config: { mapping: { add: ["event"], bitmap: ["u"] } },
      clock: () => 0,
    });
    const planner = new BatchPlanner({
      prefix: "",
      layout: "flat",
      tagged: false,
    });
    const raw = engine.process(
      Array.from({ length: 1000 }, (_, i) => ({ event: "a", u: `u${i % 10}` })),
    );
    raw.forEach((r, i) => r.ok && planner.addEvent(r.commands, i + 1));
    const batch = planner.finish("b");
    const ops = batch.groups.flatMap((g) => g.ops);
    expect(ops).toContainEqual({
      kind: "incrby",
      key: "add:d:0:event:a",
      by: 1000,
    });
    const pf = ops.find((o) => o.kind === "pfadd");
    expect(pf && pf.kind === "pfadd" && pf.elements.sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `u${i}`).sort(),
    );
    expect(ops.length).toBe(3); // INCRBY, its index set, one PFADD
  });

  it("count uniques exactly as Redis's PFCOUNT does", async () => {
    const redis = new Redis(redisUrl);
    const memory = await openMemoryStore();
    try {
      for (const n of [1, 50, 3000, 40000]) {
        const key = `pf-${n}`;
        const elements = Array.from({ length: n }, (_, i) => `e${i}:${n}`);
        for (let i = 0; i < n; i += 5000)
          await redis.pfadd(key, ...elements.slice(i, i + 5000));
        await memory.apply({
          id: key,
          groups: [
            { tag: "", ops: [{ kind: "pfadd", key, elements }], lines: [[]] },
          ],
        });
        expect(await memory.pfcount([key])).toBe(await redis.pfcount(key));
      }
      const union = ["pf-50", "pf-3000", "pf-40000"];
      expect(await memory.pfcount(union)).toBe(await redis.pfcount(...union));
    } finally {
      redis.disconnect();
    }
  });

  it("report a refused write with its events and land the rest", async () => {
    for (const kind of ["memory", "redis"]) {
      const prefix = `wrongtype-${kind}`;
      const engine = createEngineSync({ config: { prefix }, clock: () => 0 });
      const store = await open(kind, "flat", prefix);
      // The key of event "boom" already holds a hash.
      await store.apply({
        id: `pre-${kind}`,
        groups: [
          {
            tag: "",
            ops: [
              {
                kind: "hincrby",
                key: `${prefix}:add:d:0:event:boom`,
                field: "f",
                by: 1,
              },
            ],
            lines: [[]],
          },
        ],
      });
      const failures: OpFailure[] = [];
      const stats = await record(
        [
          { event: "ok" },
          { event: "boom" },
          { event: "ok" },
          { event: "boom" },
        ],
        { engine, store, onFailure: (f) => failures.push(f) },
      );
      expect(stats.failedOps).toBe(1);
      expect(failures[0]!.error).toMatch(/^WRONGTYPE/);
      expect(failures[0]!.lines).toEqual([2, 4]);
      const r = await query(
        { config: engine.config, store },
        { metric: "add", pattern: "event", from: 0, to: 1, by: "total" },
      );
      expect(r.totals).toEqual([["ok", 2]]);
    }
  });

  it("apply a batch once however often it is sent", async () => {
    for (const kind of ["redis", "cluster"]) {
      const prefix = `once-${kind}`;
      const engine = createEngineSync({ config: { ...config, prefix } });
      const store = await open(kind, "flat", prefix);
      const planner = new BatchPlanner({
        prefix,
        layout: "flat",
        tagged: store.tagged,
      });
      engine
        .process(events(300))
        .forEach((r, i) => r.ok && planner.addEvent(r.commands, i + 1));
      const batch = planner.finish(`${kind}-run:1`);
      await store.apply(batch);
      await store.apply(batch);
      const r = await query(
        { config: engine.config, store },
        {
          metric: "add",
          pattern: "event",
          from: "2024-10-31",
          to: "2024-11-05",
          by: "total",
        },
      );
      expect(
        r.totals.reduce((a, [, n]) => a + n, 0),
        kind,
      ).toBe(300);
    }
  });

  it("record their layout, follow it, and refuse another", async () => {
    for (const kind of ["memory", "redis"]) {
      const prefix = `layout-${kind}`;
      const engine = createEngineSync({ config: { prefix }, clock: () => 0 });
      const store = await open(kind, "hash", prefix);
      await record([{ event: "a" }, { event: "a" }], {
        engine,
        store,
        layout: "hash",
      });
      // No layout named: the recorded one is used, later ingests included.
      const stats = await record([{ event: "a" }], { engine, store });
      expect(stats.layout).toBe("hash");
      const ctx = { config: engine.config, store };
      expect((await query(ctx, EVENTS_ON_DAY_0)).totals).toEqual([["a", 3]]);
      await expect(
        query({ ...ctx, layout: "flat" }, EVENTS_ON_DAY_0),
      ).rejects.toThrow(/holds counters in the hash layout, not flat/);
      await expect(
        record([{ event: "a" }], { engine, store, layout: "flat" }),
      ).rejects.toThrow(/use --layout hash/);
    }
  });

  it.each([
    [
      { batchLines: 0 },
      "batchLines: expected a whole number from 1 to 1000000, got 0",
    ],
    [
      { batchLines: 2.5 },
      "batchLines: expected a whole number from 1 to 1000000, got 2.5",
    ],
    [{ skipLines: -1 }, "skipLines: expected a whole number from 0 to"],
    [
      { retention: { d: "1" } },
      'retention.d: expected a whole number from 1 to 3153600000, got "1"',
    ],
    [{ retention: 5 }, "retention: expected { d?, h? } in seconds, got 5"],
    [{ runId: "a b" }, "runId: expected 1 to 64 letters, digits"],
    [{ layout: "tree" }, 'layout: expected "flat" or "hash", got "tree"'],
  ])("refuse the options %j before writing anything", async (bad, message) => {
    const engine = createEngineSync({
      config: { prefix: "options" },
      clock: () => 0,
    });
    const store = await open("memory", "flat", "options");
    await expect(
      record([{ event: "a" }], { engine, store, ...(bad as object) }),
    ).rejects.toThrow(message);
    expect(
      (await query({ config: engine.config, store }, EVENTS_ON_DAY_0)).totals,
    ).toEqual([]);
  });

  it("expire buckets past their retention whatever the write order", async () => {
    // Day 0 is long past a one-day retention: every key of it must go,
    // including sorted-set members and hash fields written after the
    // first write to their key in the batch.
    for (const layout of ["flat", "hash"] as const) {
      const prefix = `retention-${layout}`;
      const engine = createEngineSync({
        config: { prefix, mapping: { add: ["event"], top: ["page"] } },
        clock: () => 0,
      });
      const store = await open("redis", layout, prefix);
      const events = ["/", "/a", "/b", "/a"].map((page, i) => ({
        event: `e${i}`,
        page,
      }));
      await record(events, { engine, store, layout, retention: { d: 86400 } });
      const ctx = { config: engine.config, store };
      for (const q of [
        { metric: "add", pattern: "event" },
        { metric: "top", pattern: "page" },
      ] as const) {
        const r = await query(ctx, { ...q, from: 0, to: 1, by: "total" });
        expect(r.totals, `${layout} ${q.metric}`).toEqual([]);
      }
    }
  });

  it("count new input sent under a reused run id", async () => {
    const prefix = "reused-run";
    const engine = createEngineSync({ config: { prefix }, clock: () => 0 });
    const store = await open("redis", "flat", prefix);
    await record([{ event: "a" }], { engine, store, runId: "same" });
    await record([{ event: "b" }], { engine, store, runId: "same" });
    await record([{ event: "b" }], { engine, store, runId: "same" }); // a true repeat
    const r = await query(
      { config: engine.config, store },
      { metric: "add", pattern: "event", from: 0, to: 1, by: "total" },
    );
    expect(r.totals).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
  });

  it("refuse hash-tag braces on a Cluster", async () => {
    const engine = createEngineSync({
      config: { prefix: "x", mapping: { add: ["}x"] } },
    });
    const store = await open("cluster", "flat", "x");
    await expect(
      record([{ event: "a", "}x": 1 }], { engine, store }),
    ).rejects.toThrow(
      'mapping.add[0]: pattern "}x": "{" and "}" cannot be used with a Redis Cluster',
    );
  });

  it("keep every Cluster transaction within one slot", () => {
    const engine = createEngineSync({ config: { ...config, prefix: "slots" } });
    const planner = new BatchPlanner(
      { prefix: "slots", layout: "flat", tagged: true },
      { d: 86400 },
    );
    engine
      .process(events(500))
      .forEach((r, i) => r.ok && planner.addEvent(r.commands, i + 1));
    const batch = planner.finish("b");
    // One group per pattern: user, country~event, event, page, country.
    expect(batch.groups.map((g) => g.tag).sort()).toEqual([
      "country",
      "country~event",
      "event",
      "page",
      "user",
    ]);
    for (const g of batch.groups) {
      const slots = new Set(g.ops.map((o) => calculateSlot(o.key)));
      expect(slots.size, `group ${g.tag}`).toBe(1);
    }
  });
});

describe("a Redis restart in the middle of an ingest", () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    server = await startRedis({ durable: true });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("loses nothing and counts nothing twice", async () => {
    const n = 200_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      lines.push(
        JSON.stringify({
          event: `e${i % 7}`,
          n: (i % 5) + 1,
          ts: DAY0 + (i % 86400),
        }),
      );
    }
    const engine = createEngineSync({
      config: {
        time: { eventTimeField: "ts" },
        mapping: { add: ["event"], addValue: [{ key: "event", addKey: "n" }] },
      },
    });
    const store = new RedisStore({
      url: server.url,
      style: { prefix: "", layout: "flat" },
      retryForMs: 20_000,
    });
    let batches = 0;
    let restarted: Promise<void> | undefined;
    const stats = await ingest(bytes(lines.join("\n") + "\n"), {
      engine,
      store,
      batchLines: 2000,
      onProgress: () => {
        batches++;
        if (batches === 20) {
          // Crash the server while the next batches are on their way.
          restarted = (async () => {
            await server.kill();
            await new Promise((r) => setTimeout(r, 300));
            await server.restart();
          })();
        }
      },
    });
    expect(restarted, "the server was killed mid-ingest").toBeDefined();
    await restarted;
    expect(batches).toBe(n / 2000);
    expect(stats.accepted).toBe(n);
    const r = await query(
      { config: engine.config, store },
      {
        metric: "add",
        pattern: "event",
        from: DAY0,
        to: DAY0 + 86400,
        by: "total",
      },
    );
    const sums = await query(
      { config: engine.config, store },
      {
        metric: "adv",
        pattern: "event",
        addKey: "n",
        from: DAY0,
        to: DAY0 + 86400,
        by: "total",
      },
    );
    await store.close();
    const expected = new Map<string, number>();
    const expectedSum = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      expected.set(`e${i % 7}`, (expected.get(`e${i % 7}`) ?? 0) + 1);
      expectedSum.set(
        `e${i % 7}`,
        (expectedSum.get(`e${i % 7}`) ?? 0) + (i % 5) + 1,
      );
    }
    expect(new Map(r.totals)).toEqual(expected);
    expect(new Map(sums.totals)).toEqual(expectedSum);
  });
});
