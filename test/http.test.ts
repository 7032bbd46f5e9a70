/**
 * The HTTP API against live servers (`startServer` on a free port), on
 * the memory store and on the test Redis: what `POST /events` answers,
 * that `GET /query` gives back what was posted, the limits, the token,
 * the 4xx errors, and a shutdown that flushes pending events. The last
 * suite runs the built `traqq serve` (after `bash scripts/build.sh`):
 * its option checks, signals and a Redis that goes away.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";

import { afterEach, describe, expect, inject, it } from "vitest";

import {
  openMemoryStore,
  query,
  RedisStore,
  resolveConfig,
  type Config,
  type ConfigInput,
  type Layout,
  type QueryResult,
  type Store,
} from "../ts/node.js";
import {
  startServer,
  type EventsResponse,
  type RunningServer,
  type ServerOptions,
} from "../ts/server.js";
import { freePort } from "../bench/servers.js";

const DAY = Date.UTC(2024, 2, 1) / 1000; // 2024-03-01, UTC

const BASE: ConfigInput = {
  time: { timezone: "UTC", eventTimeField: "ts" },
  mapping: {
    bitmap: ["user"],
    add: ["event", "event~page"],
    addValue: [{ key: "event", addKey: "amount" }],
    top: ["page", "id"],
  },
};

interface Ev {
  event: string;
  page: string;
  user: string;
  amount: number;
  ts: number;
}

/** A deterministic mix over three days; amounts are exact in binary. */
function makeEvents(n: number): Ev[] {
  let s = 11;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  return Array.from({ length: n }, () => ({
    event: pick(["view", "click", "buy"]),
    page: pick(["/", "/a", "/pricing", "/docs"]),
    user: `u${Math.floor(rnd() * 50)}`,
    amount: pick([1, 2.5, 0.25, 4]),
    ts: DAY + Math.floor(rnd() * 3 * 86400),
  }));
}

function tally(
  events: Ev[],
  key: (e: Ev) => string,
  by: (e: Ev) => number = () => 1,
) {
  const out = new Map<string, number>();
  for (const e of events) out.set(key(e), (out.get(key(e)) ?? 0) + by(e));
  return out;
}

const dayOf = (ts: number) =>
  new Date(Math.floor(ts / 86400) * 86400_000).toISOString().slice(0, 10);

async function call(
  url: string,
  init: {
    method?: string;
    body?: string | Uint8Array;
    type?: string;
    token?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.type) headers["content-type"] = init.type;
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(url, {
    method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
    // A copy on its own ArrayBuffer is what fetch's types take.
    body:
      init.body instanceof Uint8Array ? new Uint8Array(init.body) : init.body,
    headers,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: the test looks at the text.
  }
  return { status: res.status, json, headers: res.headers };
}

const post = (
  server: RunningServer,
  body: string,
  type = "application/json",
  token?: string,
) => call(`${server.url}/events`, { body, type, token });

const ask = async (
  server: RunningServer,
  params: Record<string, string>,
): Promise<QueryResult> => {
  const r = await call(`${server.url}/query?${new URLSearchParams(params)}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as QueryResult;
};

const running: { server: RunningServer; closed: boolean }[] = [];
afterEach(async () => {
  await Promise.all(
    running.filter((r) => !r.closed).map((r) => r.server.close()),
  );
  running.length = 0;
});

let serial = 0;

/** Starts a server on a fresh store (a fresh key prefix on Redis). */
async function serve(
  kind: "memory" | "redis",
  extra: Partial<ServerOptions> & {
    configInput?: ConfigInput;
    layout?: Layout;
    store?: Store;
  } = {},
): Promise<{
  server: RunningServer;
  config: Config;
  store: Store;
  close(): Promise<void>;
}> {
  const prefix = `http${++serial}-${process.pid}`;
  const layout = extra.layout ?? (kind === "memory" ? "flat" : "hash");
  const config = resolveConfig({ ...(extra.configInput ?? BASE), prefix });
  const store =
    extra.store ??
    (kind === "memory"
      ? await openMemoryStore()
      : new RedisStore({ url: inject("redisUrl"), style: { prefix, layout } }));
  const server = await startServer({
    config,
    store,
    layout,
    engine: "wasm",
    host: "127.0.0.1",
    port: 0,
    ...extra,
  });
  const entry = { server, closed: false };
  running.push(entry);
  return {
    server,
    config,
    store,
    close: async () => {
      entry.closed = true;
      await server.close();
    },
  };
}

describe.each(["memory", "redis"] as const)(
  "the HTTP API on the %s store",
  (kind) => {
    it("records one event, an array, NDJSON and text/plain NDJSON", async () => {
      const { server } = await serve(kind);
      const one = { event: "a", page: "/", ts: DAY };

      expect((await post(server, JSON.stringify(one))).json).toEqual({
        accepted: 1,
        rejected: 0,
        rejections: [],
        failures: [],
      });
      const arr = await post(server, JSON.stringify([one, one, one]));
      expect(arr.status).toBe(200);
      expect(arr.json).toMatchObject({ accepted: 3, rejected: 0 });
      const nd = await post(
        server,
        `${JSON.stringify(one)}\n\n${JSON.stringify(one)}`,
        "application/x-ndjson",
      );
      expect(nd.json).toMatchObject({ accepted: 2, rejected: 0 });
      const plain = await post(
        server,
        JSON.stringify(one) + "\n",
        "text/plain; charset=utf-8",
      );
      expect(plain.json).toMatchObject({ accepted: 1, rejected: 0 });

      const r = await ask(server, {
        metric: "add",
        pattern: "event",
        from: "2024-03-01",
        to: "2024-03-01",
      });
      expect(r.totals).toEqual([["a", 7]]);
    });

    it("reports rejections with their index in the request", async () => {
      const { server } = await serve(kind);
      const good = { event: "ok", ts: DAY };
      const arr = await post(
        server,
        JSON.stringify([
          good,
          { name: "x" },
          good,
          42,
          { event: "   " },
          { event: "t", ts: true },
        ]),
      );
      expect(arr.status).toBe(200);
      expect(arr.json).toEqual({
        accepted: 2,
        rejected: 4,
        rejections: [
          { index: 1, error: "missing required 'event' field" },
          { index: 3, error: "event must be a JSON object" },
          { index: 4, error: "event name cannot be empty" },
          {
            index: 5,
            error: "event time 'ts' must be a number or an RFC 3339 string",
          },
        ],
        failures: [],
      });

      // NDJSON indexes are lines; blank lines count but are neither.
      const nd = await post(
        server,
        [
          JSON.stringify(good),
          "",
          '{"event": oops}',
          "  ",
          JSON.stringify(good),
          "{",
        ].join("\n"),
        "application/x-ndjson",
      );
      expect(nd.json).toEqual({
        accepted: 2,
        rejected: 2,
        rejections: [
          { index: 2, error: "invalid JSON: syntax error" },
          { index: 5, error: "invalid JSON: unexpected end of input" },
        ],
        failures: [],
      });
    });

    it("answers queries with exactly what was posted, from concurrent requests", async () => {
      const { server } = await serve(kind);
      const events = makeEvents(1200);
      // Forty requests at once, in all three body formats.
      const chunks = Array.from({ length: 40 }, (_, i) =>
        events.slice(i * 30, i * 30 + 30),
      );
      const answers = await Promise.all(
        chunks.map((c, i) =>
          i % 3 === 0
            ? post(server, JSON.stringify(c))
            : i % 3 === 1
              ? post(
                  server,
                  c.map((e) => JSON.stringify(e)).join("\n"),
                  "application/x-ndjson",
                )
              : post(
                  server,
                  c.map((e) => JSON.stringify(e)).join("\n") + "\n",
                  "text/plain",
                ),
        ),
      );
      for (const a of answers)
        expect(a.json).toMatchObject({ accepted: 30, rejected: 0 });

      const range = { from: "2024-03-01", to: "2024-03-03" };
      const byDay = await ask(server, {
        metric: "add",
        pattern: "event",
        by: "day",
        ...range,
      });
      expect(byDay.buckets.map((b) => b.label)).toEqual([
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
      ]);
      for (const b of byDay.buckets) {
        const want = tally(
          events.filter((e) => dayOf(e.ts) === b.label),
          (e) => e.event,
        );
        expect(new Map(Object.entries(b.values))).toEqual(want);
      }

      const pairs = await ask(server, {
        metric: "add",
        pattern: "page~event",
        by: "total",
        ...range,
      });
      expect(new Map(pairs.totals)).toEqual(
        tally(events, (e) => `${e.event}~${e.page}`),
      );

      const sums = await ask(server, {
        metric: "adv",
        pattern: "event",
        addKey: "amount",
        by: "total",
        ...range,
      });
      expect(new Map(sums.totals)).toEqual(
        tally(
          events,
          (e) => e.event,
          (e) => e.amount,
        ),
      );

      const top = await ask(server, {
        metric: "top",
        pattern: "page",
        by: "total",
        top: "2",
        ...range,
      });
      const pages = [...tally(events, (e) => e.page)]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2);
      expect(top.totals).toEqual(pages);

      const only = await ask(server, {
        metric: "add",
        pattern: "event",
        by: "total",
        values: "buy,view",
        ...range,
      });
      expect(only.totals.map(([v]) => v).sort()).toEqual(["buy", "view"]);
      const prefixed = await ask(server, {
        metric: "top",
        pattern: "page",
        by: "total",
        prefix: "/p",
        ...range,
      });
      expect(prefixed.totals).toEqual([
        ["/pricing", tally(events, (e) => e.page).get("/pricing")],
      ]);

      // 50 users at most; HyperLogLog is exact this small.
      const users = await ask(server, {
        metric: "bmp",
        pattern: "user",
        by: "total",
        ...range,
      });
      expect(users.totals).toEqual([
        ["", new Set(events.map((e) => e.user)).size],
      ]);
    });

    it("keeps every digit of big integer values in a JSON body", async () => {
      const { server } = await serve(kind);
      const body = `[{"event":"x","ts":${DAY},"id":2868860079149422351},
                  {"event":"x","ts":${DAY},"id":2868860079149422352}]`;
      expect((await post(server, body)).json).toMatchObject({ accepted: 2 });
      const r = await ask(server, {
        metric: "top",
        pattern: "id",
        from: "2024-03-01",
        to: "2024-03-01",
        by: "total",
      });
      expect(r.totals.map(([v]) => v).sort()).toEqual([
        "2868860079149422351",
        "2868860079149422352",
      ]);
    });

    it("says what is wrong with a bad request, as JSON", async () => {
      const { server } = await serve(kind);
      const bad = async (
        p: ReturnType<typeof call>,
        status: number,
        error: RegExp,
      ) => {
        const r = await p;
        expect(r.status).toBe(status);
        expect(r.json.error).toMatch(error);
      };
      await bad(
        post(server, '[{"event":"a"},\n {"event" "b"}]'),
        400,
        /^body: invalid JSON at line 2, column 11: expected ':'/,
      );
      await bad(
        post(server, '{"event":"a"} x'),
        400,
        /line 1, column 15: unexpected data after the JSON value/,
      );
      await bad(post(server, ""), 400, /the body is empty/);
      await bad(
        post(server, '"signup"'),
        400,
        /expected an event object or an array of events, got a string/,
      );
      await bad(
        post(server, "event=a", "application/x-www-form-urlencoded"),
        415,
        /^content-type: expected application\/json/,
      );
      await bad(
        call(`${server.url}/query?metric=add`),
        400,
        /^pattern: required/,
      );
      await bad(
        call(`${server.url}/query?metric=count&pattern=event`),
        400,
        /^metric: expected add, adv, bmp or top/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event&frm=2024-03-01`),
        400,
        /unknown query parameter "frm"/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event&range=today&top=0`),
        400,
        /^top: expected a whole number/,
      );
      await bad(
        call(
          `${server.url}/query?metric=add&pattern=event&by=week&range=today`,
        ),
        400,
        /^by: expected hour, day or total/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event&by=day&by=total`),
        400,
        /^by: given more than once/,
      );
      // These come from the query engine's own checks, QueryError as 400.
      const q = (params: string) => call(`${server.url}/query?${params}`);
      await bad(
        q("metric=add&pattern=country&range=today"),
        400,
        /^pattern: "country" is not in mapping\.add/,
      );
      await bad(
        q("metric=adv&pattern=event&addKey=price&range=today"),
        400,
        /^addKey: "event" sums amount, not "price"/,
      );
      await bad(
        q("metric=add&pattern=event&addKey=amount&range=today"),
        400,
        /^addKey: only for adv/,
      );
      await bad(
        q("metric=bmp&pattern=user&range=today&top=3"),
        400,
        /^top, values, prefix: a unique count has no values/,
      );
      await bad(
        q("metric=add&pattern=event&range=today&from=2024-03-01&to=2024-03-02"),
        400,
        /^range: give a named range or from and to, not both/,
      );
      await bad(
        call(`${server.url}/query?metric=adv&pattern=event&range=today`),
        400,
        /^addKey: required for adv/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event`),
        400,
        /^from, to: both are needed/,
      );
      await bad(
        call(
          `${server.url}/query?metric=add&pattern=event&range=today&by=hour`,
        ),
        400,
        /storeHourly/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event&range=someday`),
        400,
        /^range: unknown shortcut "someday"/,
      );
      await bad(
        call(`${server.url}/query?metric=add&pattern=event~~x&range=today`),
        400,
        /^pattern: /,
      );
      await bad(
        call(
          `${server.url}/query?metric=add&pattern=event&from=2024-02-30&to=2024-03-01`,
        ),
        400,
        /^from: "2024-02-30" is not a date/,
      );
      await bad(
        call(`${server.url}/nothing/here`),
        404,
        /^no route GET \/nothing\/here/,
      );
    });

    it("answers 413 for a body over the limit", async () => {
      const { server } = await serve(kind, { bodyLimit: 1000 });
      const small = await post(
        server,
        JSON.stringify({ event: "a", pad: "x".repeat(900) }),
      );
      expect(small.status).toBe(200);
      const big = await post(
        server,
        JSON.stringify({ event: "a", pad: "x".repeat(1000) }),
      );
      expect(big.status).toBe(413);
      expect(big.json).toEqual({
        error: "body: larger than the limit of 1000 bytes",
      });
    });

    it("needs the bearer token when one is set, except for /health", async () => {
      const { server } = await serve(kind, { token: "s3cret" });
      const ev = JSON.stringify({ event: "a", ts: DAY });
      const none = await post(server, ev);
      expect(none.status).toBe(401);
      expect(none.json.error).toMatch(/needs 'Authorization: Bearer <token>'/);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const wrong = await post(server, ev, "application/json", "guess");
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual({
        error: "authorization: wrong bearer token",
      });
      expect(
        (await call(`${server.url}/query?metric=add&pattern=event&range=today`))
          .status,
      ).toBe(401);
      expect((await call(`${server.url}/config`)).status).toBe(401);
      expect((await call(`${server.url}/health`)).status).toBe(200);

      const right = await post(server, ev, "application/json", "s3cret");
      expect(right.json).toMatchObject({ accepted: 1 });
      const q = await call(
        `${server.url}/query?metric=add&pattern=event&from=${DAY}&to=${DAY + 1}&by=total`,
        {
          token: "s3cret",
        },
      );
      expect(q.json.totals).toEqual([["a", 1]]);
      // Nothing was recorded from the refused requests.

      // Without a token the same requests need no header.
      const open = await serve(kind);
      expect((await post(open.server, ev)).status).toBe(200);
    });

    it("answers /health and /config", async () => {
      const { server, config } = await serve(kind);
      expect((await call(`${server.url}/health`)).json).toEqual({
        ok: true,
        store: kind,
        layout: kind === "memory" ? "flat" : "hash",
        engine: "wasm",
      });
      expect((await call(`${server.url}/config`)).json).toEqual(config);
    });

    it("flushes pending events into the store on close", async () => {
      // The batch timer is far away: only close() can flush these events.
      const file = join(
        mkdtempSync(join(tmpdir(), "traqq-http-")),
        "store.ndjson.gz",
      );
      const s = await serve(kind, {
        flushMs: 60_000,
        ...(kind === "memory"
          ? { store: await openMemoryStore({ file }) }
          : {}),
      });
      const pending = Promise.all(
        Array.from({ length: 5 }, () =>
          post(
            s.server,
            JSON.stringify([
              { event: "late", ts: DAY },
              { event: "late", ts: DAY },
            ]),
          ),
        ),
      );
      const settled = await Promise.race([
        pending.then(() => "answered"),
        sleep(300).then(() => "waiting"),
      ]);
      expect(settled).toBe("waiting");

      const started = Date.now();
      await s.close();
      // Kept-alive client connections must not hold the shutdown up.
      expect(Date.now() - started).toBeLessThan(5000);
      for (const r of await pending)
        expect(r.json).toMatchObject({ accepted: 2 });
      await expect(fetch(`${s.server.url}/health`)).rejects.toThrow();

      // The store was closed; open it again and look.
      const reopened =
        kind === "memory"
          ? await openMemoryStore({ file })
          : new RedisStore({
              url: inject("redisUrl"),
              style: { prefix: s.config.prefix, layout: "hash" },
            });
      try {
        const r = await query(
          {
            config: s.config,
            store: reopened,
            layout: kind === "memory" ? "flat" : "hash",
          },
          {
            metric: "add",
            pattern: "event",
            from: "2024-03-01",
            to: "2024-03-01",
            by: "total",
          },
        );
        expect(r.totals).toEqual([["late", 10]]);
      } finally {
        await reopened.close();
      }
    });
  },
);

describe("the HTTP API", () => {
  it("batches concurrent requests into few store writes", async () => {
    const store = await openMemoryStore();
    let applies = 0;
    const apply = store.apply.bind(store);
    store.apply = (b) => {
      applies++;
      return apply(b);
    };
    const { server } = await serve("memory", { store, flushMs: 500 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(server, JSON.stringify({ event: `e${i}`, ts: DAY })),
      ),
    );
    for (const a of answers) expect(a.json).toMatchObject({ accepted: 1 });
    expect(applies).toBeGreaterThanOrEqual(1);
    expect(applies).toBeLessThanOrEqual(3);
  });

  it("sends a full batch without waiting for the timer", async () => {
    const { server } = await serve("memory", {
      flushMs: 60_000,
      batchEvents: 10,
    });
    const events = Array.from({ length: 10 }, () => ({ event: "x", ts: DAY }));
    const r = await Promise.race([
      post(server, JSON.stringify(events)),
      sleep(5000).then(() => null),
    ]);
    expect(r?.json).toMatchObject({ accepted: 10 });
  });

  it("reports a write the store refused with the events it came from", async () => {
    const store = await openMemoryStore();
    const { server, config } = await serve("memory", { store });
    // The counter of event "boom" already holds a hash: INCR is refused.
    await store.apply({
      id: "seed",
      groups: [
        {
          tag: "",
          ops: [
            {
              kind: "hincrby",
              key: `${config.prefix}:add:d:${DAY}:event:boom`,
              field: "f",
              by: 1,
            },
          ],
          lines: [[]],
        },
      ],
    });
    const r = await post(
      server,
      JSON.stringify([
        { event: "ok", ts: DAY },
        { event: "boom", ts: DAY },
        { event: "boom", ts: DAY },
      ]),
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ accepted: 3, rejected: 0 });
    expect(r.json.failures).toEqual([
      {
        key: `${config.prefix}:add:d:${DAY}:event:boom`,
        error: expect.stringMatching(/^WRONGTYPE/),
        indexes: [1, 2],
      },
    ]);
  });

  it("answers 503 when Redis cannot be reached", async () => {
    const port = await freePort();
    const logged: string[] = [];
    const store = new RedisStore({
      url: `redis://127.0.0.1:${port}`,
      retryForMs: 300,
      style: { prefix: "dead", layout: "flat" },
    });
    const { server } = await serve("redis", {
      store,
      log: (m) => logged.push(m),
    });
    const r = await post(server, JSON.stringify({ event: "a", ts: DAY }));
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(
      /^store unavailable \(redis\); these events were not stored/,
    );
    expect(logged.join("\n")).toMatch(/a batch of 1 event was not stored/);
    const q = await call(
      `${server.url}/query?metric=add&pattern=event&range=today`,
    );
    expect(q.status).toBe(503);
    expect(q.json.error).toMatch(/^store: /);
  });

  it("serves the dashboard's files and the wasm module, and nothing else", async () => {
    const webRoot = mkdtempSync(join(tmpdir(), "traqq-web-"));
    writeFileSync(
      join(webRoot, "index.html"),
      "<!doctype html><title>t</title>",
    );
    writeFileSync(join(webRoot, "dashboard.js"), "export {};");
    const { server } = await serve("memory", { webRoot, token: "t" });
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("<title>t</title>");
    const js = await fetch(`${server.url}/dashboard.js`);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    const wasm = await fetch(`${server.url}/wasm/traqq_bg.wasm`);
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    expect(Buffer.from(await wasm.arrayBuffer()).subarray(0, 4)).toEqual(
      Buffer.from("\0asm"),
    );
    expect((await fetch(`${server.url}/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/.hidden`)).status).toBe(404);

    const empty = mkdtempSync(join(tmpdir(), "traqq-web-"));
    const unbuilt = await serve("memory", { webRoot: empty });
    const r = await call(`${unbuilt.server.url}/`);
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/the dashboard is not built/);
  });

  it("answers /health with 503 when the store cannot be reached", async () => {
    const port = await freePort();
    const store = new RedisStore({
      url: `redis://127.0.0.1:${port}`,
      retryForMs: 300,
      style: { prefix: "dead", layout: "flat" },
    });
    const { server } = await serve("redis", {
      store,
      healthTimeoutMs: 500,
      log: () => {},
    });
    const started = Date.now();
    const r = await call(`${server.url}/health`);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.status).toBe(503);
    expect(r.json).toEqual({
      ok: false,
      store: "redis",
      layout: "hash",
      engine: "wasm",
      error: expect.stringMatching(/^store: /),
    });
  });

  it.each([
    ["PUT", "/events", "POST"],
    ["DELETE", "/events", "POST"],
    ["OPTIONS", "/events", "POST"],
    ["PATCH", "/events", "POST"],
    ["GET", "/events", "POST"],
    ["POST", "/query", "GET, HEAD"],
    ["PUT", "/config", "GET, HEAD"],
    ["POST", "/health", "GET, HEAD"],
    ["DELETE", "/", "GET, HEAD"],
    ["POST", "/dashboard.js", "GET, HEAD"],
  ])("answers %s %s with 405, allowing %s", async (method, path, allow) => {
    const { server } = await serve("memory", { token: "t" });
    const r = await call(`${server.url}${path}`, {
      method,
      body: method === "GET" ? undefined : "{}",
      type: "application/json",
    });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe(allow);
    expect(r.json).toEqual({
      error: `method: ${method} is not allowed on ${path}; use ${allow}`,
    });
  });

  it("answers HEAD /events with 405 too, and HEAD /health as GET", async () => {
    const { server } = await serve("memory");
    const events = await fetch(`${server.url}/events`, { method: "HEAD" });
    expect(events.status).toBe(405);
    expect(events.headers.get("allow")).toBe("POST");
    const health = await fetch(`${server.url}/health`, { method: "HEAD" });
    expect(health.status).toBe(200);
  });

  it.each([
    [
      "an undecodable path",
      "GET /%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      400,
      /^url: cannot decode "\/%ZZ"/,
    ],
    [
      "a negative Content-Length",
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: -5\r\n\r\n",
      400,
      /^content-length: invalid character in Content-Length/,
    ],
    [
      "Content-Length beside Transfer-Encoding",
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
      /^request: not valid HTTP\/1\.1 \(/,
    ],
    ["no HTTP at all", "HELLO\r\n\r\n", 400, /^request: not valid HTTP/],
    [
      "a path segment over 100 characters",
      `GET /${"a".repeat(150)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      414,
      /^url: a part of the path is longer than 100 characters/,
    ],
  ])("answers %s with {error} only", async (_what, request, status, error) => {
    const { server } = await serve("memory");
    const r = await raw(server.url, request).reply;
    expect(r.status).toBe(status);
    expect(Object.keys(r.json)).toEqual(["error"]);
    expect(r.json.error).toMatch(error);
  });

  it("answers a body shorter than its Content-Length with {error}", async () => {
    const { server } = await serve("memory");
    const exchange = raw(
      server.url,
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Content-Length: 50\r\n\r\n{"event":"a"}',
    );
    exchange.socket.end();
    const r = await exchange.reply;
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: "body: the connection ended before the whole body arrived",
    });
  });

  it("decodes gzip, deflate and br bodies", async () => {
    const { server } = await serve("memory");
    const body = Buffer.from(
      JSON.stringify([
        { event: "zipped", ts: DAY },
        { event: "zipped", ts: DAY },
      ]),
    );
    const encoded: [string, Uint8Array][] = [
      ["gzip", gzipSync(body)],
      ["x-gzip", gzipSync(body)],
      ["deflate", deflateSync(body)],
      ["br", brotliCompressSync(body)],
      ["identity", body],
    ];
    for (const [coding, data] of encoded) {
      const r = await call(`${server.url}/events`, {
        body: data,
        type: "application/json; charset=UTF-8",
        headers: { "content-encoding": coding },
      });
      expect(r.json, coding).toMatchObject({ accepted: 2, rejected: 0 });
    }
    const q = await ask(server, {
      metric: "add",
      pattern: "event",
      from: "2024-03-01",
      to: "2024-03-01",
      by: "total",
    });
    expect(q.totals).toEqual([["zipped", 10]]);
  });

  it("refuses encodings and charsets it cannot read, and bodies that decode too large", async () => {
    const { server } = await serve("memory", { bodyLimit: 1000 });
    const body = JSON.stringify({ event: "a", ts: DAY });
    const bad = async (
      headers: Record<string, string>,
      data: string | Uint8Array,
      status: number,
      error: RegExp,
    ) => {
      const r = await call(`${server.url}/events`, {
        body: data,
        headers: { "content-type": "application/json", ...headers },
      });
      expect(r.status, JSON.stringify(headers)).toBe(status);
      expect(r.json.error).toMatch(error);
    };
    await bad(
      { "content-encoding": "zstd" },
      body,
      415,
      /^content-encoding: "zstd" is not supported; use gzip, deflate, br or none$/,
    );
    await bad(
      { "content-encoding": "gzip, br" },
      body,
      415,
      /^content-encoding: "gzip, br" stacks encodings/,
    );
    await bad(
      { "content-encoding": "gzip" },
      body,
      400,
      /^body: not valid gzip data \(incorrect header check\)$/,
    );
    await bad(
      { "content-type": "application/json; charset=latin1" },
      body,
      415,
      /^content-type: charset "latin1" is not supported; send utf-8$/,
    );
    await bad(
      { "content-type": 'text/plain; charset="ISO-8859-1"' },
      body,
      415,
      /charset "ISO-8859-1"/,
    );
    // 1001 spaces compress to a few bytes: the limit is on what they decode to.
    const bomb = gzipSync(Buffer.alloc(1001, " "));
    expect(bomb.length).toBeLessThan(100);
    await bad(
      { "content-encoding": "gzip" },
      bomb,
      413,
      /^body: larger than the limit of 1000 bytes once decoded from gzip$/,
    );
    const fits = await call(`${server.url}/events`, {
      body: gzipSync(body + " ".repeat(900)),
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
      },
    });
    expect(fits.json).toMatchObject({ accepted: 1 });
  });

  it("answers 408 to a request that does not arrive in time", async () => {
    const { server } = await serve("memory", { requestTimeoutMs: 300 });
    const started = Date.now();
    const r = await raw(
      server.url,
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\n\r\n{"event":"slow"}',
    ).reply;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.status).toBe(408);
    expect(r.json).toEqual({
      error: "request: not received in full within 0.3 s",
    });
  });

  it("closes within its grace period while a client holds a request open", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "traqq-http-")), "s.jsonl.gz");
    const logged: string[] = [];
    const s = await serve("memory", {
      store: await openMemoryStore({ file }),
      graceMs: 300,
      log: (m) => logged.push(m),
    });
    const ok = await post(s.server, JSON.stringify({ event: "kept", ts: DAY }));
    expect(ok.json).toMatchObject({ accepted: 1 });
    // Headers and 17 of the 100 body bytes promised, then nothing.
    const slow = raw(
      s.server.url,
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\n\r\n{"event":"slow"}',
    );
    await sleep(200);

    const started = Date.now();
    const outcome = await Promise.race([
      s.close().then(() => "closed"),
      sleep(5000).then(() => "still waiting"),
    ]);
    expect(outcome).toBe("closed");
    expect(Date.now() - started).toBeLessThan(2000);
    await slow.reply.catch(() => undefined);
    expect(slow.socket.destroyed).toBe(true);
    expect(logged.join("\n")).toMatch(/closing the connections/);
    expect(s.server.acknowledged).toBe(1);

    const reopened = await openMemoryStore({ file });
    const r = await query(
      { config: s.config, store: reopened, layout: "flat" },
      {
        metric: "add",
        pattern: "event",
        from: "2024-03-01",
        to: "2024-03-01",
        by: "total",
      },
    );
    expect(r.totals).toEqual([["kept", 1]]);
  });

  it("closeConnections() ends the grace period at once", async () => {
    const s = await serve("memory", { graceMs: 60_000, log: () => {} });
    const slow = raw(
      s.server.url,
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 100\r\n\r\n{",
    );
    await sleep(200);
    const closed = s.close();
    await sleep(200);
    const started = Date.now();
    s.server.closeConnections();
    const outcome = await Promise.race([
      closed.then(() => "closed"),
      sleep(5000).then(() => "still waiting"),
    ]);
    expect(outcome).toBe("closed");
    expect(Date.now() - started).toBeLessThan(1000);
    await slow.reply.catch(() => undefined);
  });
});

describe("the built traqq serve", () => {
  const BIN = fileURLToPath(new URL("../bin/traqq.js", import.meta.url));
  const SLOW =
    "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
    'Content-Length: 100\r\n\r\n{"event":"slow"}';
  const children: ChildProcess[] = [];
  afterEach(() => {
    // A test that failed may leave its server up; nothing else may.
    for (const c of children.splice(0))
      if (c.exitCode === null) c.kill("SIGKILL");
  });

  /** A folder with a config file and the path of a store in it. */
  function workspace(): { config: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), "traqq-serve-"));
    const config = join(dir, "traqq.json");
    writeFileSync(config, JSON.stringify(BASE));
    return { config, file: join(dir, "store.jsonl.gz") };
  }

  /** Starts `traqq serve`; REDIS_URL and TRAQQ_TOKEN only when given. */
  function start(args: string[], env: Record<string, string> = {}) {
    const full: NodeJS.ProcessEnv = { ...process.env };
    delete full.REDIS_URL;
    delete full.TRAQQ_TOKEN;
    const child = spawn(process.execPath, [BIN, "serve", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...full, ...env },
    });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) =>
      child.on("close", (code) => r(code)),
    );
    const url = new Promise<string>((resolve, reject) => {
      child.stderr!.on("data", () => {
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    });
    url.catch(() => {});
    /** Resolves once stderr matches, or rejects after `ms`. */
    const said = async (pattern: RegExp, ms = 5000) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(stderr)) {
        if (Date.now() > deadline)
          throw new Error(`stderr never matched ${pattern}: ${stderr}`);
        await sleep(20);
      }
    };
    /** The exit code, or "still running" after `ms`. */
    const exit = (ms: number) =>
      Promise.race([exited, sleep(ms).then(() => "still running" as const)]);
    return { child, url, exit, said, stderr: () => stderr };
  }

  const send = (url: string, events: object) =>
    call(`${url}/events`, {
      body: JSON.stringify(events),
      type: "application/json",
    });

  async function totals(config: string, file: string) {
    const store = await openMemoryStore({ file });
    const { loadConfigFile } = await import("../ts/node.js");
    const r = await query(
      { config: loadConfigFile(config), store, layout: "flat" },
      {
        metric: "add",
        pattern: "event",
        from: "2024-03-01",
        to: "2024-03-01",
        by: "total",
      },
    );
    return r.totals;
  }

  it.each([
    [["--token", "", "--port", "0"], {}, /^traqq: --token: empty; /],
    [["--port", "0"], { TRAQQ_TOKEN: "" }, /^traqq: TRAQQ_TOKEN: empty; /],
    [["--token", "a b", "--port", "0"], {}, /^traqq: --token: must not/],
    [
      ["--port", "70000"],
      {},
      /^error: option '--port <port>' argument '70000' is invalid\. expected a whole number from 0 to 65535/,
    ],
    [
      ["--host", "999.1.1.1", "--port", "0"],
      {},
      /^traqq: cannot listen on 999\.1\.1\.1:0: no such host/,
    ],
  ])(
    "refuses %j %j with exit code 2",
    async (args, env: Record<string, string>, message) => {
      const { config, file } = workspace();
      const s = start(["-c", config, "--store", file, ...args], env);
      expect(await s.exit(10_000)).toBe(2);
      expect(s.stderr()).toMatch(message);
      expect(existsSync(`${file}.lock`)).toBe(false);
    },
  );

  it("stops on SIGTERM within its grace period while a client holds a request open", async () => {
    const { config, file } = workspace();
    const s = start(["-c", config, "--store", file, "--port", "0"]);
    const url = await s.url;
    expect((await send(url, { event: "kept", ts: DAY })).json).toMatchObject({
      accepted: 1,
    });
    const slow = raw(url, SLOW, 60_000);
    await sleep(200);

    const started = Date.now();
    s.child.kill("SIGTERM");
    expect(await s.exit(15_000)).toBe(0);
    // The default grace period is 5 s.
    expect(Date.now() - started).toBeGreaterThan(4000);
    expect(Date.now() - started).toBeLessThan(10_000);
    await slow.reply.catch(() => undefined);
    expect(s.stderr()).toMatch(/SIGTERM: stopping; requests in flight get 5 s/);
    expect(s.stderr()).toMatch(
      /closing the connections of requests still open/,
    );
    expect(s.stderr()).toMatch(/stopped \(1 event acknowledged\)/);
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(await totals(config, file)).toEqual([["kept", 1]]);
  });

  it("says what a second SIGINT does, and still saves the store", async () => {
    const { config, file } = workspace();
    const s = start(["-c", config, "--store", file, "--port", "0"]);
    const url = await s.url;
    await send(url, [
      { event: "kept", ts: DAY },
      { event: "kept", ts: DAY },
    ]);
    const slow = raw(url, SLOW, 60_000);
    await sleep(200);

    s.child.kill("SIGINT");
    await s.said(/SIGINT: stopping/);
    const started = Date.now();
    s.child.kill("SIGINT");
    expect(await s.exit(5000)).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    await slow.reply.catch(() => undefined);
    expect(s.stderr()).toMatch(
      /SIGINT again: closing open connections now; still writing pending events and .*store\.jsonl\.gz saved \(SIGINT once more quits without that\)/,
    );
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(await totals(config, file)).toEqual([["kept", 2]]);
  });

  /** A redis-server of the test's own, which SIGSTOP stalls: it takes connections and never answers. */
  async function pausableRedis(): Promise<{ url: string; pause(): void }> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "traqq-redis-"));
    const child = spawn(
      "redis-server",
      [
        ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
        ...["--save", "", "--appendonly", "no"],
      ],
      { stdio: "ignore" },
    );
    children.push(child);
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const sock = connect(port, "127.0.0.1");
        sock.once("connect", () => {
          sock.destroy();
          resolve(true);
        });
        sock.once("error", () => resolve(false));
      });
      if (up) break;
      if (i > 200) throw new Error(`redis-server on ${port} did not start`);
      await sleep(25);
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      pause: () => child.kill("SIGSTOP"),
    };
  }

  it("answers 503 within its retry window when Redis stops answering, and a third signal quits saying what is lost", async () => {
    const { config } = workspace();
    const redis = await pausableRedis();
    const s = start(["-c", config, "--redis", redis.url, "--port", "0"]);
    const url = await s.url;
    expect((await send(url, { event: "a", ts: DAY })).status).toBe(200);
    redis.pause();

    const started = Date.now();
    const r = await send(url, { event: "b", ts: DAY });
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(/^store unavailable \(redis\)/);
    // The 5 s of the HTTP retry window, not the 15 s of a read or the
    // 30 s an ingest run waits.
    expect(Date.now() - started).toBeLessThan(8000);
    expect((await call(`${url}/health`)).status).toBe(503);

    const held = send(url, { event: "c", ts: DAY }).catch(() => null);
    await sleep(300);
    s.child.kill("SIGINT");
    await s.said(/SIGINT: stopping/);
    s.child.kill("SIGINT");
    await s.said(/SIGINT again/);
    s.child.kill("SIGINT");
    expect(await s.exit(3000)).toBe(130);
    expect(s.stderr()).toMatch(
      /SIGINT a third time: quitting now; 1 event of requests not yet answered may not be stored/,
    );
    await held;
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface RawReply {
  status: number;
  headers: string;
  json: any;
}

/**
 * Writes `request` as is on a new connection; `reply` is what the server
 * sent once it closed the connection (or rejects after `timeoutMs`).
 */
function raw(
  url: string,
  request: string,
  timeoutMs = 5000,
): { socket: Socket; reply: Promise<RawReply> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(request);
  const reply = new Promise<RawReply>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no reply in ${timeoutMs} ms; got ${JSON.stringify(text)}`),
      );
    }, timeoutMs);
    socket.on("data", (d) => (text += d));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const [head = "", body = ""] = text.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let json: unknown = body;
      try {
        json = JSON.parse(body);
      } catch {
        // Not JSON: the test looks at the text.
      }
      resolve({ status, headers: head, json });
    });
  });
  return { socket, reply };
}
