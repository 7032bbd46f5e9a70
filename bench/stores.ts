/**
 * Ingests the flights into every store and layout, then reads everything
 * back and checks that all six hold the same answers: the memory store,
 * one Redis server and a three-master Cluster (both started here, on
 * free ports), each in layout `flat` and `hash`.
 *
 * Each run is a child process of its own, so that its peak RSS is the
 * ingest's alone and no run inherits another's heap. The memory store
 * lives in its child, so every child reads its store back itself and
 * writes the answers to a file; this process compares the files.
 *
 * Usage: `node dist/bench/stores.js [FILE] [--config FILE] [--limit N]
 * [--batch N] [--from DATE] [--to DATE] [--runs memory:flat,...]
 * [--keep]`. Exits 1 when the stores disagree. `--keep` leaves each
 * run's answers in a temporary folder; `--compare A.json B.json` checks
 * two such files against each other.
 */
import { spawn } from "node:child_process";
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { Redis } from "ioredis";

import {
  createEngineSync,
  ingest,
  loadConfigFile,
  openMemoryStore,
  query,
  RedisStore,
  type Config,
  type Layout,
  type QueryOptions,
  type Store,
} from "../ts/node.js";
import type { PlannedBatch } from "../ts/store/types.js";
import { repoRoot } from "./lines.js";
import { startCluster, startRedis, type RedisServer } from "./servers.js";

/** A store kind and a layout, e.g. `redis:hash`. */
type RunName = `${"memory" | "redis" | "cluster"}:${Layout}`;

const ALL_RUNS: RunName[] = [
  "memory:flat",
  "memory:hash",
  "redis:flat",
  "redis:hash",
  "cluster:flat",
  "cluster:hash",
];

/** What a child reports on its last stdout line. */
interface RunResult {
  run: RunName;
  lines: number;
  accepted: number;
  rejected: number;
  failedOps: number;
  /** Engine commands, before merging. */
  commands: number;
  /** Writes after merging, batch markers aside. */
  ops: number;
  /** Op groups sent, each one `MULTI … EXEC` with a marker on Redis. */
  groups: number;
  /** Marker keys set: one per group on Redis, none in memory. */
  markers: number;
  batches: number;
  ingestSeconds: number;
  /** Peak resident set of the child right after the ingest, in bytes. */
  peakRss: number;
  readSeconds: number;
  /** Flights the `add event` total reads back. */
  eventTotal: number;
}

/** One query's answers: bucket label to `[value, number]` pairs, sorted. */
type Answers = Record<string, Record<string, [string, number][]>>;

// The parent's options, and those it passes to each child (`--one`).
const { values: args, positionals } = parseArgs({
  options: {
    one: { type: "string" },
    compare: { type: "string" },
    file: { type: "string" },
    out: { type: "string" },
    redis: { type: "string" },
    cluster: { type: "string" },
    config: { type: "string" },
    from: { type: "string", default: "2001-01-01" },
    to: { type: "string", default: "2001-07-01" },
    runs: { type: "string" },
    limit: { type: "string" },
    batch: { type: "string" },
    keep: { type: "boolean", default: false },
  },
  allowPositionals: true,
});

/** Every query the config can answer: each pattern, by day and in total. */
function queriesOf(config: Config): (QueryOptions & { name: string })[] {
  const m = config.mapping;
  const out: (QueryOptions & { name: string })[] = [];
  const add = (metric: QueryOptions["metric"], pattern: string, k?: string) => {
    for (const by of ["day", "total"] as const) {
      const name = `${metric} ${pattern}${k ? ` (${k})` : ""} by ${by}`;
      out.push({ name, metric, pattern, addKey: k, by });
    }
  };
  for (const p of m.bitmap) add("bmp", p);
  for (const p of m.add) add("add", p);
  for (const a of m.addValue) add("adv", a.key, a.addKey);
  for (const p of m.top) add("top", p);
  return out;
}

/** The first `limit` lines of a file as a byte stream (all of it if none). */
async function* firstLines(
  path: string,
  limit: number,
): AsyncGenerator<Uint8Array> {
  let left = limit;
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1 << 20,
  })) {
    const bytes = chunk as Buffer;
    if (!Number.isFinite(left)) {
      yield bytes;
      continue;
    }
    let from = 0;
    while (left > 0) {
      const nl = bytes.indexOf(0x0a, from);
      if (nl < 0) break;
      from = nl + 1;
      left--;
    }
    if (left > 0) {
      yield bytes;
      continue;
    }
    if (from > 0) yield bytes.subarray(0, from);
    return;
  }
}

/** `store`, counting the groups (and so the batch markers) it is sent. */
function counting(store: Store, tally: { groups: number; batches: number }) {
  const apply = store.apply.bind(store);
  store.apply = (batch: PlannedBatch) => {
    tally.batches++;
    tally.groups += batch.groups.length;
    return apply(batch);
  };
  return store;
}

/** One run, in this (child) process: ingest, measure, read back. */
async function child(run: RunName): Promise<void> {
  const [kind, layout] = run.split(":") as [string, Layout];
  const file = args.file!;
  const limit = Number(args.limit ?? Infinity);
  const config = loadConfigFile(args.config!);
  const engine = createEngineSync({ config });
  const style = { prefix: config.prefix, layout };
  const store =
    kind === "memory"
      ? await openMemoryStore()
      : kind === "redis"
        ? new RedisStore({ url: args.redis!, style })
        : new RedisStore({ cluster: args.cluster!.split(","), style });
  const tally = { groups: 0, batches: 0 };
  counting(store, tally);

  let lastReport = Date.now();
  const stats = await ingest(firstLines(file, limit), {
    engine,
    store,
    layout,
    batchLines: Number(args.batch ?? 4096),
    onProgress: (s) => {
      if (Date.now() - lastReport < 15_000) return;
      lastReport = Date.now();
      const rate = Math.round(s.accepted / s.seconds);
      process.stderr.write(`stores: ${run} ${s.lines} lines, ${rate}/s\n`);
    },
  });
  // maxRSS is a high-water mark: read now, it belongs to the ingest and
  // not to the readback that follows.
  const peakRss = process.resourceUsage().maxRSS * 1024;

  const started = performance.now();
  const answers: Answers = {};
  const ctx = { config, store, layout };
  const [from, to] = [args.from, args.to];
  for (const q of queriesOf(config)) {
    const r = await query(ctx, { ...q, from, to });
    const byLabel: Record<string, [string, number][]> = {};
    for (const b of r.buckets) {
      byLabel[b.label] = Object.entries(b.values).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
    }
    answers[q.name] = byLabel;
  }
  const readSeconds = (performance.now() - started) / 1000;
  const total = answers["add event by total"]?.total ?? [];
  writeFileSync(args.out!, JSON.stringify(answers));
  await store.close();
  engine.free();

  const result: RunResult = {
    run,
    lines: stats.lines,
    accepted: stats.accepted,
    rejected: stats.rejected,
    failedOps: stats.failedOps,
    commands: stats.commands,
    ops: stats.ops,
    groups: tally.groups,
    markers: kind === "memory" ? 0 : tally.groups,
    batches: tally.batches,
    ingestSeconds: stats.seconds,
    peakRss,
    readSeconds,
    eventTotal: total.reduce((a, [, n]) => a + n, 0),
  };
  console.log(JSON.stringify(result));
}

/** Runs one child and resolves with what it reported. */
function runChild(args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const proc = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), ...args],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    proc.once("error", fail);
    proc.once("exit", (code, signal) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) {
        fail(new Error(`child ${args[1]} exited with ${code ?? signal}`));
      } else {
        done(JSON.parse(last) as RunResult);
      }
    });
  });
}

/** Bytes of memory the servers' datasets use, summed. */
async function usedMemory(servers: RedisServer[]): Promise<number> {
  let sum = 0;
  for (const s of servers) {
    const r = new Redis(s.url);
    const info = await r.info("memory");
    r.disconnect();
    sum += Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  }
  return sum;
}

/** Empties the servers, so a run starts from nothing and runs don't mix. */
async function flush(servers: RedisServer[]): Promise<void> {
  for (const s of servers) {
    const r = new Redis(s.url);
    await r.flushall();
    r.disconnect();
  }
}

/**
 * Where two runs' answers first part ways, or `null` if they agree.
 * Counts must be equal; sums may differ below 1e-6, since the memory
 * store adds exact decimals and Redis long doubles.
 */
function firstDifference(
  a: Answers,
  b: Answers,
  names: [string, string],
): string | null {
  const show = (v: number | undefined) => (v === undefined ? "missing" : v);
  for (const q of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const qa = a[q] ?? {};
    const qb = b[q] ?? {};
    const sums = q.startsWith("adv ");
    for (const label of new Set([...Object.keys(qa), ...Object.keys(qb)])) {
      const va = new Map(qa[label] ?? []);
      const vb = new Map(qb[label] ?? []);
      for (const v of new Set([...va.keys(), ...vb.keys()])) {
        const x = va.get(v);
        const y = vb.get(v);
        const same =
          x !== undefined &&
          y !== undefined &&
          (sums ? Math.round(x * 1e6) === Math.round(y * 1e6) : x === y);
        if (!same) {
          return (
            `${q}, ${label}, value ${JSON.stringify(v)}: ` +
            `${names[0]} ${show(x)}, ${names[1]} ${show(y)}`
          );
        }
      }
    }
  }
  return null;
}

/** How many numbers an answer file holds, to show the check is not empty. */
function cells(a: Answers): number {
  let n = 0;
  for (const q of Object.values(a)) {
    for (const values of Object.values(q)) n += values.length;
  }
  return n;
}

/** `--compare A B`: the check on two answer files kept with `--keep`. */
function compareFiles(a: string, b: string): void {
  const read = (f: string) => JSON.parse(readFileSync(f, "utf8")) as Answers;
  const diff = firstDifference(read(a), read(b), [a, b]);
  if (diff === null) {
    console.log(`PASS: ${a} and ${b} hold the same answers`);
  } else {
    console.log(`FAIL: ${diff}`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const one = args.one;
  if (one !== undefined) return child(one as RunName);
  const compare = args.compare;
  if (compare !== undefined) return compareFiles(compare, positionals[0]!);

  const root = repoRoot();
  const file = resolve(positionals[0] ?? join(root, "data", "flights.ndjson"));
  const configPath = resolve(
    args.config ?? join(root, "examples", "flights.json"),
  );
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: node dist/scripts/flights.js makes it`,
    );
  }
  // The data runs to the six flights stamped at midnight of 2001-07-01,
  // so the last day is read too.
  const { from, to } = args;
  const runs = (args.runs?.split(",") ?? ALL_RUNS) as RunName[];
  for (const r of runs) {
    if (!ALL_RUNS.includes(r)) throw new Error(`--runs: unknown run ${r}`);
  }
  const shared = [
    "--file",
    file,
    "--config",
    configPath,
    "--from",
    from,
    "--to",
    to,
  ];
  for (const name of ["limit", "batch"] as const) {
    const v = args[name];
    if (v !== undefined) shared.push(`--${name}`, v);
  }

  const dir = mkdtempSync(join(tmpdir(), "traqq-stores-"));
  const servers: RedisServer[] = [];
  let single: RedisServer | undefined;
  let cluster: { nodes: RedisServer[]; hosts: string[] } | undefined;
  const results: (RunResult & { serverMemory: number; file: string })[] = [];
  const started = performance.now();
  try {
    if (runs.some((r) => r.startsWith("redis:"))) {
      single = await startRedis();
      servers.push(single);
    }
    if (runs.some((r) => r.startsWith("cluster:"))) {
      cluster = await startCluster();
      servers.push(...cluster.nodes);
    }
    for (const run of runs) {
      const on = run.startsWith("redis:")
        ? [single!]
        : run.startsWith("cluster:")
          ? cluster!.nodes
          : [];
      await flush(on);
      const out = join(dir, `${run.replace(":", "-")}.json`);
      const args = ["--one", run, ...shared, "--out", out];
      if (single) args.push("--redis", single.url);
      if (cluster) args.push("--cluster", cluster.hosts.join(","));
      process.stderr.write(`stores: ${run} ...\n`);
      const r = await runChild(args);
      const serverMemory = on.length > 0 ? await usedMemory(on) : 0;
      await flush(on);
      results.push({ ...r, serverMemory, file: out });
      process.stderr.write(
        `stores: ${run} ${r.accepted} events in ` +
          `${r.ingestSeconds.toFixed(1)} s, read back in ` +
          `${r.readSeconds.toFixed(1)} s\n`,
      );
    }
  } finally {
    for (const s of servers) await s.stop();
  }

  const fmt = (n: number, digits = 0) =>
    n.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  const mb = (b: number) => fmt(b / 2 ** 20);
  console.log(
    `stores: ${file}, ${results[0]?.lines ?? 0} lines, ` +
      `read back ${from}..${to} (zone from the config)`,
  );
  const header = [
    "run",
    "events/s",
    "cmds/ev",
    "writes/ev",
    "markers/ev",
    "sent/ev",
    "peak RSS MB",
    "Redis MB",
    "ingest s",
    "read s",
  ];
  const rows = results.map((r) => {
    const ev = r.accepted || 1;
    return [
      r.run,
      fmt(r.accepted / r.ingestSeconds),
      fmt(r.commands / ev, 3),
      fmt(r.ops / ev, 3),
      fmt(r.markers / ev, 4),
      // Each group on Redis is EXISTS marker, MULTI, the writes, SET
      // marker, EXEC.
      r.markers > 0 ? fmt((r.ops + 4 * r.groups) / ev, 3) : "-",
      mb(r.peakRss),
      r.serverMemory > 0 ? mb(r.serverMemory) : "-",
      fmt(r.ingestSeconds, 1),
      fmt(r.readSeconds, 1),
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]!.length)),
  );
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ");
  console.log("  " + line(header));
  for (const row of rows) console.log("  " + line(row));
  console.log(
    "  cmds/ev: engine commands (no merging); writes/ev: after merging " +
      "(INCRBY, HINCRBY, INCRBYFLOAT, PFADD, ZINCRBY, SADD of index sets); " +
      "markers/ev: batch markers, one per group and batch; sent/ev: every " +
      "command Redis receives (writes, EXISTS, MULTI, SET marker, EXEC); " +
      "peak RSS: the ingesting process; Redis MB: used_memory after it",
  );

  const problems: string[] = [];
  for (const r of results) {
    if (r.rejected > 0) problems.push(`${r.run}: ${r.rejected} rejected`);
    if (r.failedOps > 0) problems.push(`${r.run}: ${r.failedOps} failed ops`);
    if (r.eventTotal !== r.accepted) {
      problems.push(
        `${r.run}: add event reads back ${r.eventTotal} flights, ` +
          `${r.accepted} were accepted`,
      );
    }
  }
  const [ref, ...rest] = results;
  if (ref) {
    const base = JSON.parse(readFileSync(ref.file, "utf8")) as Answers;
    console.log(
      `  compared: ${Object.keys(base).length} queries, ` +
        `${fmt(cells(base))} numbers each`,
    );
    for (const r of rest) {
      const other = JSON.parse(readFileSync(r.file, "utf8")) as Answers;
      const diff = firstDifference(base, other, [ref.run, r.run]);
      if (diff !== null) problems.push(`${ref.run} vs ${r.run}: ${diff}`);
      else console.log(`  ${r.run} = ${ref.run}`);
    }
  }
  if (args.keep) {
    console.log(`  answers kept in ${dir}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
  const wall = (performance.now() - started) / 1000;
  if (problems.length > 0) {
    console.log(`FAIL (${fmt(wall, 1)} s): ${problems[0]}`);
    for (const p of problems.slice(1, 10)) console.log(`  also: ${p}`);
    process.exit(1);
  }
  console.log(
    `PASS (${fmt(wall, 1)} s): all ${results.length} stores hold the ` +
      `same counts, sums and unique counts for every pattern and day`,
  );
}

main().catch((err: unknown) => {
  console.error(`stores: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
