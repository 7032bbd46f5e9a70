/**
 * The built `traqq` command (`node bin/traqq.js`, after
 * `bash scripts/build.sh`): ingest into a memory-store file and into the
 * test Redis, query back as a table and as JSON, rejections and refused
 * stores on stderr, exit codes, resuming a run, and `serve`. Expected
 * numbers are counted here from the generated input, never taken from
 * the program's own output.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { freePort } from "../bench/servers.js";

const BIN = fileURLToPath(new URL("../bin/traqq.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; REDIS_URL is only set when a test passes it. */
function traqq(
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  const env = { ...process.env, ...options.env };
  if (!options.env?.REDIS_URL) delete env.REDIS_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

const DAY = 86400;
const D0 = Date.UTC(2024, 2, 1) / 1000; // 2024-03-01, UTC
const DATES = ["2024-03-01", "2024-03-02", "2024-03-03"];
const EVENTS = ["view", "click", "buy"];
const COUNTRIES = ["US", "DE", "FR", "JP"];

interface Input {
  text: string;
  /** Per day index, per event name: how many. */
  perDay: Map<string, number>[];
  /** Per country~event value over the three days. */
  perCountryEvent: Map<string, number>;
  /** Per event name, the summed amount (in cents, to stay exact). */
  amountCents: Map<string, number>;
  users: Set<string>;
  /** 1-based line numbers of the lines that must be rejected, with why. */
  bad: Map<number, string>;
  accepted: number;
  lines: number;
}

/**
 * `n` events over three UTC days, with a bad line every 37th line and a
 * blank one every 50th (skipped, but counted for line numbers).
 */
function makeInput(n: number, seed = 11): Input {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const input: Input = {
    text: "",
    perDay: DATES.map(() => new Map()),
    perCountryEvent: new Map(),
    amountCents: new Map(),
    users: new Set(),
    bad: new Map(),
    accepted: 0,
    lines: 0,
  };
  const add = (m: Map<string, number>, k: string, by = 1) =>
    m.set(k, (m.get(k) ?? 0) + by);
  for (let i = 0; i < n; i++) {
    const line = input.lines + 1;
    if (line % 50 === 0) {
      input.text += "\n";
      input.lines++;
      continue;
    }
    if (line % 37 === 0) {
      const [text, why] =
        line % 2 === 0
          ? ["{not json", "invalid JSON: syntax error"]
          : [`{"country":"US","ts":${D0}}`, "missing required 'event' field"];
      input.text += text + "\n";
      input.bad.set(line, why);
      input.lines++;
      continue;
    }
    const day = Math.floor(rnd() * 3);
    const event = pick(EVENTS);
    const country = pick(COUNTRIES);
    const user = `u${Math.floor(rnd() * 60)}`;
    const cents = 25 * Math.floor(rnd() * 20);
    const e = {
      event,
      country,
      user,
      amount: cents / 100,
      ts: D0 + day * DAY + Math.floor(rnd() * DAY),
    };
    input.text += JSON.stringify(e) + "\n";
    input.lines++;
    input.accepted++;
    add(input.perDay[day]!, event);
    add(input.perCountryEvent, `${country}~${event}`);
    add(input.amountCents, event, cents);
    input.users.add(user);
  }
  return input;
}

function writeConfig(dir: string, prefix: string): string {
  const path = join(dir, `${prefix || "config"}.json`);
  const config = {
    prefix,
    time: { timezone: "UTC", eventTimeField: "ts" },
    mapping: {
      bitmap: ["user"],
      add: ["event", "event~country"],
      addValue: [{ key: "event", addKey: "amount" }],
      top: ["country"],
    },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Reads the table `traqq query` prints: header cells, then rows by value. */
function parseTable(stdout: string): {
  header: string[];
  rows: Map<string, number[]>;
} {
  const [, head, ...rest] = stdout.trimEnd().split("\n");
  const header = head!.trim().split(/\s{2,}/);
  const rows = new Map<string, number[]>();
  for (const line of rest) {
    const [value, ...cells] = line.trim().split(/\s{2,}/);
    rows.set(value!, cells.map(Number));
  }
  return { header, rows };
}

function total(m: Map<string, number>): number {
  return [...m.values()].reduce((a, b) => a + b, 0);
}

/** The expected per-event totals over all three days. */
function eventTotals(input: Input): Map<string, number> {
  const out = new Map<string, number>();
  for (const day of input.perDay) {
    for (const [k, v] of day) out.set(k, (out.get(k) ?? 0) + v);
  }
  return out;
}

const RANGE = ["--from", DATES[0]!, "--to", DATES[2]!];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "traqq-cli-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("traqq ingest into the memory store, then traqq query", () => {
  const input = makeInput(1200);
  let storeFile: string;
  let config: string;
  let ingested: Run;

  beforeAll(async () => {
    config = writeConfig(dir, "");
    storeFile = join(dir, "mem", "store.jsonl.gz");
    writeFileSync(join(dir, "events.ndjson"), input.text);
    ingested = await traqq([
      "ingest",
      join(dir, "events.ndjson"),
      "--config",
      config,
      "--store",
      storeFile,
      "--batch",
      "100",
    ]);
  });

  it("exits 0, creates the store's folder and file, reports the totals", () => {
    expect(ingested.code, ingested.stderr).toBe(0);
    expect(existsSync(storeFile)).toBe(true);
    expect(existsSync(`${storeFile}.lock`)).toBe(false);
    const rejected = input.bad.size;
    expect(ingested.stderr).toContain(
      `lines     ${input.lines}: ${input.accepted} accepted, ${rejected} rejected`,
    );
    // 5 engine commands per event: PFADD, 2 INCR, INCRBYFLOAT, ZINCRBY.
    expect(ingested.stderr).toContain(
      `commands  ${5 * input.accepted} from the engine, 5.00 per event`,
    );
    expect(ingested.stderr).toContain(`memory store ${storeFile}`);
  });

  it("writes each rejection as a JSON line with its input line number", () => {
    const rejections = ingested.stderr
      .split("\n")
      .filter((l) => l.startsWith('{"line"'))
      .map((l) => JSON.parse(l) as { line: number; error: string });
    expect(rejections).toEqual(
      [...input.bad].map(([line, error]) => ({ line, error })),
    );
  });

  it("answers a table by day, with a total column", async () => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      storeFile,
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { header, rows } = parseTable(r.stdout);
    expect(header).toEqual(["event", ...DATES, "total"]);
    const totals = eventTotals(input);
    expect(new Set(rows.keys())).toEqual(new Set(EVENTS));
    for (const event of EVENTS) {
      const perDay = input.perDay.map((d) => d.get(event) ?? 0);
      expect(rows.get(event), event).toEqual([...perDay, totals.get(event)]);
    }
    // Largest total first.
    const order = [...rows.values()].map((cells) => cells.at(-1)!);
    expect(order).toEqual([...order].sort((a, b) => b - a));
  });

  it("answers JSON: the QueryResult, with --top and a reordered pattern", async () => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      storeFile,
      "--metric",
      "add",
      "--pattern",
      "country~event",
      ...RANGE,
      "--by",
      "total",
      "--top",
      "3",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { totals: [string, number][] };
    const expected = [...input.perCountryEvent]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3);
    expect(result.totals.map(([, n]) => n)).toEqual(expected.map(([, n]) => n));
    for (const [v, n] of result.totals) {
      expect(input.perCountryEvent.get(v)).toBe(n);
    }
  });

  it("sums amounts exactly, and filters values", async () => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      storeFile,
      "--metric",
      "adv",
      "--add-key",
      "amount",
      "--pattern",
      "event",
      ...RANGE,
      "--by",
      "total",
      "--values",
      "buy,view",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { totals: [string, number][] };
    expect(new Map(result.totals)).toEqual(
      new Map(["buy", "view"].map((e) => [e, input.amountCents.get(e)! / 100])),
    );
  });

  it("counts unique users as one union over the days", async () => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      storeFile,
      "--metric",
      "bmp",
      "--pattern",
      "user",
      ...RANGE,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { header, rows } = parseTable(r.stdout);
    expect(header).toEqual(["user", ...DATES, "union"]);
    const cells = rows.get("unique")!;
    // 60 users: HyperLogLog is within a few percent at this size.
    const union = cells.at(-1)!;
    expect(Math.abs(union - input.users.size)).toBeLessThanOrEqual(2);
    // Every day sees most users; the union is not the sum of the days.
    expect(union).toBeLessThan(cells[0]! + cells[1]! + cells[2]!);
  });

  it("reads NDJSON from stdin with -", async () => {
    const file = join(dir, "stdin.jsonl.gz");
    const r = await traqq(
      ["ingest", "-", "-c", config, "--store", file, "--layout", "hash"],
      { input: input.text },
    );
    expect(r.code, r.stderr).toBe(0);
    const q = await traqq([
      "query",
      "-c",
      config,
      "--store",
      file,
      "--layout",
      "hash",
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
      "--by",
      "total",
      "--json",
    ]);
    expect(q.code, q.stderr).toBe(0);
    const result = JSON.parse(q.stdout) as { totals: [string, number][] };
    expect(new Map(result.totals)).toEqual(eventTotals(input));
  });

  it("adds to an existing store file and refuses a locked one", async () => {
    const file = join(dir, "twice.jsonl.gz");
    const small = makeInput(80, 5);
    writeFileSync(join(dir, "small.ndjson"), small.text);
    const args = [
      "ingest",
      join(dir, "small.ndjson"),
      "-c",
      config,
      "--store",
      file,
    ];
    expect((await traqq(args)).code).toBe(0);
    expect((await traqq(args)).code).toBe(0);
    const q = await traqq([
      "query",
      "-c",
      config,
      "--store",
      file,
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
      "--by",
      "total",
      "--json",
    ]);
    const result = JSON.parse(q.stdout) as { totals: [string, number][] };
    expect(result.totals.reduce((a, [, n]) => a + n, 0)).toBe(
      2 * small.accepted,
    );

    // A live process (this one) holds the lock: the ingest must not run.
    writeFileSync(`${file}.lock`, `${process.pid}\n`);
    const locked = await traqq(args);
    expect(locked.code).toBe(2);
    expect(locked.stderr).toContain(
      `in use by another traqq command (pid ${process.pid})`,
    );
    // A lock left by a process that is gone is taken over.
    writeFileSync(`${file}.lock`, "999999999\n");
    expect((await traqq(args)).code).toBe(0);
  });
});

describe("exit codes and messages", () => {
  let config: string;
  beforeAll(() => {
    config = writeConfig(dir, "codes");
    writeFileSync(join(dir, "one.ndjson"), `{"event":"a","ts":${D0}}\n`);
  });

  it("exits 2 for a bad config, naming the field", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ mapping: { add: ["event~~geo"] } }));
    const r = await traqq(["ingest", join(dir, "one.ndjson"), "-c", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'mapping.add[0]: pattern "event~~geo" has an empty part',
    );
    const typo = join(dir, "typo.json");
    writeFileSync(typo, JSON.stringify({ mapping: { ad: ["event"] } }));
    expect(
      (
        await traqq([
          "query",
          "-c",
          typo,
          "--metric",
          "add",
          "--pattern",
          "event",
          ...RANGE,
        ])
      ).code,
    ).toBe(2);
  });

  it.each([
    [["--metric", "add", "--pattern", "event"], "a range is needed"],
    [
      ["--metric", "add", "--pattern", "event", ...RANGE, "--range", "today"],
      "not both",
    ],
    [
      ["--metric", "add", "--pattern", "nope", ...RANGE],
      `"nope" is not in the config's mapping.add`,
    ],
    [
      ["--metric", "adv", "--pattern", "event", ...RANGE],
      "--add-key is needed",
    ],
    [
      [
        "--metric",
        "add",
        "--pattern",
        "event",
        "--from",
        "2024-03-05",
        "--to",
        "2024-03-01",
      ],
      "--to: the range ends before it starts",
    ],
    [
      ["--metric", "add", "--pattern", "event", ...RANGE, "--by", "hour"],
      "--by: hour buckets need time.storeHourly",
    ],
    [
      ["--metric", "bmp", "--pattern", "user", ...RANGE, "--top", "3"],
      "--top does not apply",
    ],
    [
      ["--metric", "sum", "--pattern", "event", ...RANGE],
      "Allowed choices are bmp, add, adv, top",
    ],
    [
      ["--metric", "add", "--pattern", "event", ...RANGE, "--top", "0"],
      "at least 1",
    ],
  ])("exits 2 for bad query options: %j", async (args, message) => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      join(dir, "none.gz"),
      ...args,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });

  it("exits 2 when the memory store file does not exist", async () => {
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      join(dir, "none.gz"),
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("run traqq ingest first");
  });

  it("says when a running command holds the memory store it reads", async () => {
    // This test's own process stands in for a running traqq serve.
    const held = join(dir, "held.gz");
    const ask = () =>
      traqq([
        "query",
        "-c",
        config,
        "--store",
        held,
        "--metric",
        "add",
        "--pattern",
        "event",
        ...RANGE,
        "--by",
        "total",
      ]);
    writeFileSync(`${held}.lock`, `${process.pid}\n`);
    try {
      const missing = await ask();
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(
        `no memory store at ${held} yet: a running traqq command (pid ${process.pid}) holds it`,
      );
      const made = await traqq([
        "ingest",
        join(dir, "one.ndjson"),
        "-c",
        config,
        "--store",
        join(dir, "made.gz"),
      ]);
      expect(made.code, made.stderr).toBe(0);
      copyFileSync(join(dir, "made.gz"), held);
      const stale = await ask();
      expect(stale.code, stale.stderr).toBe(0);
      expect(stale.stderr).toContain(
        "writes it when it stops; this answer leaves out what it took in since it started",
      );
    } finally {
      rmSync(`${held}.lock`, { force: true });
    }
  });

  it.each([
    [["--store", "x", "--redis", "redis://127.0.0.1:1"], "name two stores"],
    [["--redis", "http://127.0.0.1"], "expected a redis:// or rediss:// URL"],
    [["--cluster", "nohost"], "is not HOST:PORT"],
    [["--run-id", "a b"], "--run-id"],
    [["--run-id", "r1"], "--run-id: only with --redis or --cluster"],
    [["--batch", "0"], "expected a whole number from 1 to 1000000"],
    [["--batch", "1e3"], "expected a whole number from 1 to 1000000"],
  ])("exits 2 for bad ingest options: %j", async (args, message) => {
    const r = await traqq([
      "ingest",
      join(dir, "one.ndjson"),
      "-c",
      config,
      ...args,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("exits 2 for a store folder that cannot be made, under /proc too", async () => {
    for (const store of ["/proc/nope/x.gz", "/proc/self/nope/x.gz"]) {
      const r = await traqq([
        "ingest",
        join(dir, "one.ndjson"),
        "-c",
        config,
        "--store",
        store,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${store}: cannot create its folder`);
    }
  });

  it("exits 2 for an input file that cannot be opened", async () => {
    const r = await traqq([
      "ingest",
      join(dir, "missing.ndjson"),
      "-c",
      config,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot open");
  });

  it("exits 1 and says where to resume when Redis cannot be reached", async () => {
    const port = await freePort();
    const r = await traqq([
      "ingest",
      join(dir, "one.ndjson"),
      "-c",
      config,
      "--redis",
      `redis://127.0.0.1:${port}`,
      "--retry-for",
      "0.5",
      "--run-id",
      "dead",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^traqq: redis unreachable for 0\.5 s: connect ECONNREFUSED .*; no lines were applied; run the same command again\n$/,
    );
  });
});

describe("traqq ingest into Redis", () => {
  const redisUrl = inject("redisUrl");
  const input = makeInput(900, 23);

  beforeAll(() => {
    writeFileSync(join(dir, "redis.ndjson"), input.text);
  });

  async function eventTotalsIn(
    config: string,
    store: string[],
    layout = "flat",
  ) {
    const r = await traqq([
      "query",
      "-c",
      config,
      ...store,
      "--layout",
      layout,
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
      "--by",
      "total",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    return new Map(
      (JSON.parse(r.stdout) as { totals: [string, number][] }).totals,
    );
  }

  it.each(["flat", "hash"])(
    "stores and answers the same counts (%s layout)",
    async (layout) => {
      const config = writeConfig(dir, `cli-redis-${layout}`);
      const r = await traqq([
        "ingest",
        join(dir, "redis.ndjson"),
        "-c",
        config,
        "--redis",
        redisUrl,
        "--layout",
        layout,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`into redis ${redisUrl}`);
      expect(
        await eventTotalsIn(config, ["--redis", redisUrl], layout),
      ).toEqual(eventTotals(input));

      const table = await traqq([
        "query",
        "-c",
        config,
        "--redis",
        redisUrl,
        "--layout",
        layout,
        "--metric",
        "top",
        "--pattern",
        "country",
        ...RANGE,
        "--by",
        "total",
      ]);
      const perCountry = new Map<string, number>();
      for (const [k, n] of input.perCountryEvent) {
        const c = k.split("~")[0]!;
        perCountry.set(c, (perCountry.get(c) ?? 0) + n);
      }
      expect(
        new Map([...parseTable(table.stdout).rows].map(([k, v]) => [k, v[0]])),
      ).toEqual(perCountry);
    },
  );

  it.each([
    [
      "/99",
      "the server refused the connection's setup: ERR DB index is out of range",
    ],
    ["/abc", "the path must be a database number"],
  ])(
    "exits 2 and writes nothing for the database path %s",
    async (path, message) => {
      const config = writeConfig(dir, "cli-redis-db");
      const r = await traqq([
        "ingest",
        join(dir, "redis.ndjson"),
        "-c",
        config,
        "--redis",
        `${redisUrl}${path}`,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      // Database 0 must not have taken the run instead.
      expect(await eventTotalsIn(config, ["--redis", redisUrl])).toEqual(
        new Map(),
      );
    },
  );

  it("takes REDIS_URL from the environment, unless --store is given", async () => {
    const config = writeConfig(dir, "cli-redis-env");
    const env = { REDIS_URL: redisUrl };
    const r = await traqq(["ingest", join(dir, "redis.ndjson"), "-c", config], {
      env,
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`into redis ${redisUrl}`);
    expect(await eventTotalsIn(config, ["--redis", redisUrl])).toEqual(
      eventTotals(input),
    );

    const file = join(dir, "env-store.jsonl.gz");
    const m = await traqq(
      ["ingest", join(dir, "redis.ndjson"), "-c", config, "--store", file],
      { env },
    );
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toContain(`memory store ${file}`);
  });

  it("resumes a run with --run-id and --skip-lines, counting nothing twice", async () => {
    // Run 1 applied batches 1-100, 101-200 and 201-300 of 100 lines, then
    // stopped. Resuming at 200 re-sends lines 201-300 as batch `run:201`,
    // which Redis knows already: it must not count again.
    const lines = input.text.split("\n").slice(0, 300).join("\n") + "\n";
    writeFileSync(join(dir, "first300.ndjson"), lines);
    const count = (text: string) =>
      text.split("\n").filter((l) => l.includes('"event"')).length;
    const expected = count(input.text);

    const config = writeConfig(dir, "cli-resume");
    const base = ["-c", config, "--redis", redisUrl, "--batch", "100"];
    const first = await traqq([
      "ingest",
      join(dir, "first300.ndjson"),
      ...base,
      "--run-id",
      "r1",
    ]);
    expect(first.code, first.stderr).toBe(0);
    const resumed = await traqq([
      "ingest",
      join(dir, "redis.ndjson"),
      ...base,
      "--run-id",
      "r1",
      "--skip-lines",
      "200",
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`lines     ${input.lines} (200 skipped)`);
    expect(resumed.stderr).toContain(
      "replayed  100 lines in batches that run r1 had applied already: not counted again",
    );
    expect(total(await eventTotalsIn(config, ["--redis", redisUrl]))).toBe(
      expected,
    );

    // The whole command again, without --skip-lines: every batch replays.
    const again = await traqq([
      "ingest",
      join(dir, "redis.ndjson"),
      ...base,
      "--run-id",
      "r1",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`replayed  ${input.lines} lines in batches`);
    expect(again.stderr).toContain("writes    0 after merging");
    expect(total(await eventTotalsIn(config, ["--redis", redisUrl]))).toBe(
      expected,
    );

    // The same steps under another run id count lines 201-300 twice: the
    // run id is what protects them.
    const other = writeConfig(dir, "cli-resume-other");
    const base2 = ["-c", other, "--redis", redisUrl, "--batch", "100"];
    await traqq([
      "ingest",
      join(dir, "first300.ndjson"),
      ...base2,
      "--run-id",
      "r2",
    ]);
    await traqq([
      "ingest",
      join(dir, "redis.ndjson"),
      ...base2,
      "--run-id",
      "r3",
      "--skip-lines",
      "200",
    ]);
    const twice = count(lines.split("\n").slice(200).join("\n"));
    expect(total(await eventTotalsIn(other, ["--redis", redisUrl]))).toBe(
      expected + twice,
    );
  });
});

describe("bad paths, limits and options", () => {
  let config: string;
  let one: string;
  const oneEvent = `{"event":"a","ts":${D0}}\n`;
  beforeAll(() => {
    config = writeConfig(dir, "edges");
    one = join(dir, "edges.ndjson");
    writeFileSync(one, oneEvent);
    mkdirSync(join(dir, "a-folder"), { recursive: true });
  });

  it.each([
    ["a-folder", "--store a-folder: is a directory"],
    ["", '--store "": expected a file path'],
    [
      "edges.ndjson/x.gz",
      "--store edges.ndjson/x.gz: edges.ndjson is not a directory",
    ],
    [
      "edges.ndjson/deeper/x.gz",
      "--store edges.ndjson/deeper/x.gz: edges.ndjson is not a directory",
    ],
    ["a-folder/", "--store a-folder/: ends with a path separator"],
  ])(
    "refuses --store %j before reading or locking anything",
    async (store, message) => {
      for (const command of ["ingest", "query"]) {
        const args =
          command === "ingest"
            ? [command, one, "-c", config, "--store", store]
            : [command, "-c", config, "--store", store, "--metric", "add"];
        const r = await traqq(
          command === "query"
            ? [...args, "--pattern", "event", ...RANGE]
            : args,
          { cwd: dir },
        );
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`traqq: ${message}`);
      }
      expect(readdirSync(dir).filter((f) => f.endsWith(".lock"))).toEqual([]);
    },
  );

  it.skipIf(process.getuid?.() !== 0 || spawnSync("chattr", ["--help"]).error)(
    "a failed save exits 1 and says the data is in the .tmp file",
    async () => {
      const file = join(dir, "immutable.jsonl.gz");
      const args = ["ingest", one, "-c", config, "--store", file];
      expect((await traqq(args)).code).toBe(0);
      // An immutable file cannot be renamed over, even by root.
      if (spawnSync("chattr", ["+i", file]).status !== 0) return;
      try {
        const r = await traqq(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("lines     1: 1 accepted");
        const m =
          /traqq: cannot save memory store .*EPERM.*this run's events included, is in (\S+\.tmp): move it to/.exec(
            r.stderr,
          );
        expect(m, r.stderr).not.toBeNull();
        expect(existsSync(`${file}.lock`)).toBe(false);
        // The .tmp file holds both runs.
        const q = await traqq([
          "query",
          "-c",
          config,
          "--store",
          m![1]!,
          "--metric",
          "add",
          "--pattern",
          "event",
          ...RANGE,
          "--by",
          "total",
          "--json",
        ]);
        expect(JSON.parse(q.stdout).totals).toEqual([["a", 2]]);
        rmSync(m![1]!);
      } finally {
        spawnSync("chattr", ["-i", file]);
      }
    },
  );

  it("a save that cannot even start exits 1 and says nothing was kept", async () => {
    // The store's path turns into a folder while the run waits for stdin.
    const file = join(dir, "vanishing.jsonl.gz");
    const child = spawn(
      process.execPath,
      [BIN, "ingest", "-", "-c", config, "--store", file],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    while (!existsSync(`${file}.lock`)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    mkdirSync(join(file, "inside"), { recursive: true });
    child.stdin.end(oneEvent);
    expect(await exited).toBe(1);
    expect(stderr).toContain(`traqq: cannot save memory store ${file}:`);
    expect(stderr).toContain("was left as it was, without this run's events");
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("rejects a line over 64 MiB as too long and goes on with the rest", async () => {
    const file = join(dir, "long-line.ndjson");
    const out = createWriteStream(file);
    out.write(oneEvent);
    // A valid event: read whole, the engines would accept it.
    out.write(`{"event":"b","ts":${D0},"pad":"`);
    const mib = "x".repeat(1 << 20);
    for (let i = 0; i < 65; i++) out.write(mib);
    out.write('"}\n');
    out.write(`{"event":"c","ts":${D0}}\n{"event":"d"`);
    await new Promise((r) => out.end(r));
    const error = { line: 2, error: "line is longer than 64 MiB" };

    const p = await traqq(["process", file, "-c", config, "--batch", "2"]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(":event:a");
    expect(p.stdout).not.toContain(":event:b");
    expect(p.stdout).toContain(":event:c");
    expect(p.stderr).toContain(JSON.stringify(error));
    // Line 4 is cut off, not too long.
    expect(p.stderr).toContain('{"line":4,"error":"invalid JSON');
    expect(p.stderr).toContain("4 events read, 2 accepted, 2 rejected");

    const store = join(dir, "long-line.jsonl.gz");
    const i = await traqq(["ingest", file, "-c", config, "--store", store]);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stderr).toContain(JSON.stringify(error));
    expect(i.stderr).toContain("lines     4: 2 accepted, 2 rejected");

    // Resuming past the long line numbers the lines the same way.
    const resumed = await traqq([
      "ingest",
      file,
      "-c",
      config,
      "--store",
      join(dir, "long-line-2.jsonl.gz"),
      "--skip-lines",
      "1",
    ]);
    expect(resumed.stderr).toContain(JSON.stringify(error));
    expect(resumed.stderr).toContain("lines     4 (1 skipped): 1 accepted");
  });

  it.each([
    ["1e20", "expected whole unix seconds as a decimal integer"],
    ["0x10", "expected whole unix seconds as a decimal integer"],
    [" 5", "expected whole unix seconds as a decimal integer"],
    ["1.5", "expected whole unix seconds as a decimal integer"],
    ["4102444800", "out of range; expected -62135596800"],
    ["-62135596801", "out of range; expected -62135596800"],
  ])("exits 2 naming --now for --now %j", async (now, message) => {
    const r = await traqq(["process", one, "-c", config, `--now=${now}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--now <seconds>'");
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });

  it.each([
    ["4102444799", "2099-12-31"],
    ["-62135596800", "0001-01-01"],
  ])("takes --now %s, an end of the range", async (now) => {
    const config = join(dir, "no-time.json");
    writeFileSync(config, JSON.stringify({ mapping: { add: ["event"] } }));
    const r = await traqq(["process", "-", "-c", config, "--now", now], {
      input: '{"event":"a"}\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^INCR add:d:-?\d+:event:a\n$/);
    expect(r.stderr).toContain(
      "1 event read, 1 accepted, 0 rejected, 1 command,",
    );
  });

  it.each([[["process"]], [["ingest", "--store", "never.gz"]]])(
    "exits 2 for a folder as input (%j)",
    async (command) => {
      const folder = join(dir, "a-folder");
      const r = await traqq([...command, folder, "-c", config], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`traqq: ${folder}: is a directory`);
    },
  );

  it("warns when --skip-lines passes over more lines than the input has", async () => {
    const r = await traqq([
      "ingest",
      one,
      "-c",
      config,
      "--store",
      join(dir, "skipped.jsonl.gz"),
      "--skip-lines",
      "10",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "warning: --skip-lines 10, but the input has only 1 line",
    );
    expect(r.stderr).toContain("lines     1 (1 skipped): 0 accepted");
  });

  it("counts the events a retention expires at once", async () => {
    const store = join(dir, "retained.jsonl.gz");
    const input = `${oneEvent}${oneEvent}{"event":"now"}\n`;
    const r = await traqq(
      ["ingest", "-", "-c", config, "--store", store, "--retention-days", "1"],
      { input },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("lines     3: 3 accepted");
    expect(r.stderr).toContain(
      "expired   2 events fell in buckets already past the retention",
    );
    const plain = await traqq(
      ["ingest", "-", "-c", config, "--store", join(dir, "kept.jsonl.gz")],
      { input },
    );
    expect(plain.stderr).not.toContain("expired");
  });

  it.each([
    [["process", "--now", "1", "--now", "2"], "'--now <seconds>'"],
    [["process", "--engine", "ts", "-e", "wasm"], "'-e, --engine <name>'"],
    [["process", "-c", "x.json"], "'-c, --config <file>'"],
    [["ingest", "--batch", "5", "--batch", "5"], "'--batch <lines>'"],
    [["query", "--by", "day", "--by", "total"], "'--by <granularity>'"],
  ])("exits 2 for an option given twice: %j", async (args) => {
    const [command, ...rest] = args;
    const r = await traqq([command!, "-c", config, ...rest]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option '.+' is given more than once/);
  });

  it("reads a config that starts with a byte order mark", async () => {
    const bom = join(dir, "bom.json");
    writeFileSync(bom, "\ufeff" + JSON.stringify({ mapping: {} }));
    const r = await traqq(["process", "-", "-c", bom, "--now", "0"], {
      input: '{"event":"a"}\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("INCR add:d:0:event:a\n");
  });

  it("says an empty answer has no data for the pattern in the range", async () => {
    const store = join(dir, "hint.jsonl.gz");
    await traqq(["ingest", one, "-c", config, "--store", store]);
    const r = await traqq([
      "query",
      "-c",
      config,
      "--store",
      store,
      "--metric",
      "add",
      "--pattern",
      "event",
      "--from",
      "2020-01-01",
      "--to",
      "2020-01-02",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      "traqq: no add data for pattern event from 2020-01-01 to 2020-01-02 " +
        `(UTC) in memory store ${store}\n`,
    );
  });

  it.each([
    [["--add-key", "nope", "--pattern", "event"], 'sums "amount" per "event"'],
    [
      ["--add-key", "amount", "--pattern", "country"],
      '"country" is not in the config\'s mapping.addValue; it has: event (amount)',
    ],
  ])(
    "names the summed properties for --metric adv %j",
    async (args, message) => {
      const r = await traqq([
        "query",
        "-c",
        config,
        "--store",
        join(dir, "none.gz"),
        "--metric",
        "adv",
        ...args,
        ...RANGE,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    },
  );
});

describe("traqq serve", () => {
  it("takes events over HTTP, answers queries, saves the store on SIGTERM", async () => {
    const config = writeConfig(dir, "");
    const file = join(dir, "served.jsonl.gz");
    const input = makeInput(300, 3);
    const child = spawn(
      process.execPath,
      [BIN, "serve", "-c", config, "--store", file, "--port", "0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        stderr += d;
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited: ${stderr}`)));
    });
    const posted = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: input.text,
    });
    const body = (await posted.json()) as {
      accepted: number;
      rejected: number;
    };
    expect(body).toMatchObject({
      accepted: input.accepted,
      rejected: input.bad.size,
    });

    const exited = new Promise<number | null>((r) =>
      child.on("exit", (code) => r(code)),
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toContain("traqq serve: stopped");

    const q = await traqq([
      "query",
      "-c",
      config,
      "--store",
      file,
      "--metric",
      "add",
      "--pattern",
      "event",
      ...RANGE,
      "--by",
      "total",
      "--json",
    ]);
    expect(
      new Map((JSON.parse(q.stdout) as { totals: [string, number][] }).totals),
    ).toEqual(eventTotals(input));
  });
});

describe("numbers in query tables", () => {
  it.each([
    [0.1 + 0.2, "0.3"],
    [2e-7, "2e-7"],
    [1542589, "1542589"],
    [1234.5678901234, "1234.5678901234"],
    [-0.5, "-0.5"],
  ])("writes %s as %s", async (n, text) => {
    const { number } = await import("../ts/cli/query.js");
    expect(number(n)).toBe(text);
  });
});
