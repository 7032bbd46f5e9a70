/**
 * `npm run bench`: events per second of the wasm and TypeScript engines at
 * config levels 1, 5, 10 and 20, and on a sample of the real flights.
 *
 * Usage: `node dist/bench/bench.js [--time MS] [--levels 1,5,10,20]`.
 * Each timed call is one `processLines` over a pre-built NDJSON batch,
 * the engines' fast path; results are checked equal before any timing.
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bench } from "tinybench";
import { createEngineSync, loadConfigFile } from "../ts/node.js";
import type { Config, ConfigInput, EngineName } from "../ts/types.js";
import { generateEvents, levelConfig, toBatches } from "./events.js";
import {
  addToTally,
  describeMismatch,
  newTally,
  repoRoot,
  sampleLines,
} from "./lines.js";

const BATCH_EVENTS = 2000;
const SAMPLE_EVENTS = 20_000;
const ENGINES: EngineName[] = ["wasm", "ts"];
// A fixed clock: processing time must not vary between engines or runs.
const NOW_MS = Date.UTC(2024, 9, 1, 12, 0, 0);

/** One row group of the table: a config and the batches it runs on. */
interface Case {
  label: string;
  config: ConfigInput | Config;
  batches: string[];
  events: number;
  commandsPerEvent?: number;
}

interface Row {
  label: string;
  engine: EngineName;
  commandsPerEvent: number;
  eventsPerSecond: number;
  rme: number;
  samples: number;
}

const { values: args } = parseArgs({
  options: {
    time: { type: "string", default: "2000" },
    levels: { type: "string", default: "1,5,10,20" },
  },
});

async function flightsCase(root: string): Promise<Case | string> {
  const path = join(root, "data", "flights.ndjson");
  if (!existsSync(path)) {
    return (
      "flights skipped: no data/flights.ndjson " +
      "(node dist/scripts/flights.js makes it)"
    );
  }
  // Every 150th of the 3M flights spreads the sample over all six months,
  // both offsets of New York included, unlike the first 20,000 lines.
  const lines = await sampleLines(path, 150, SAMPLE_EVENTS);
  const batches: string[] = [];
  for (let i = 0; i < lines.length; i += BATCH_EVENTS) {
    batches.push(lines.slice(i, i + BATCH_EVENTS).join("\n") + "\n");
  }
  const config = loadConfigFile(join(root, "examples", "flights.json"));
  return { label: "flights", config, batches, events: lines.length };
}

// Both engines must give the same raw string for every batch, or the
// numbers compare two different jobs.
function verify(c: Case): void {
  const [wasm, ts] = ENGINES.map((engine) =>
    createEngineSync({ config: c.config, engine, clock: () => NOW_MS }),
  );
  const tally = newTally();
  for (const [i, batch] of c.batches.entries()) {
    const a = wasm!.processLines(batch, NOW_MS);
    const b = ts!.processLines(batch, NOW_MS);
    const diff = describeMismatch(a, b);
    if (diff !== null) {
      console.error(
        `bench: ${c.label}: engines disagree in batch ${i}, ${diff}`,
      );
      process.exit(1);
    }
    addToTally(tally, a);
  }
  wasm!.free();
  ts!.free();
  if (tally.rejected > 0) {
    const [reason] = tally.reasons.keys();
    console.error(
      `bench: ${c.label}: ${tally.rejected} events rejected ` +
        `(e.g. "${reason}"); the benchmark would not measure the full job`,
    );
    process.exit(1);
  }
  c.commandsPerEvent = tally.commands / tally.accepted;
}

async function measure(cases: Case[], timeMs: number): Promise<Row[]> {
  const bench = new Bench({
    time: timeMs,
    iterations: 20,
    warmupTime: Math.min(500, timeMs / 4),
    warmupIterations: 10,
  });
  const meta = new Map<
    string,
    Omit<Row, "eventsPerSecond" | "rme" | "samples">
  >();
  // The sink keeps the engines' results observably used.
  let sink = 0;
  for (const c of cases) {
    for (const name of ENGINES) {
      const engine = createEngineSync({
        config: c.config,
        engine: name,
        clock: () => NOW_MS,
      });
      let next = 0;
      const task = `${c.label} ${name}`;
      meta.set(task, {
        label: c.label,
        engine: name,
        commandsPerEvent: c.commandsPerEvent ?? 0,
      });
      bench.add(
        task,
        () => {
          const batch = c.batches[next++ % c.batches.length]!;
          sink += engine.processLines(batch, NOW_MS).length;
        },
        {
          async: false,
          // A collection left over from the previous task would land in
          // this one's samples.
          beforeAll: () => (globalThis as { gc?: () => void }).gc?.(),
        },
      );
    }
  }
  process.stderr.write(`bench: timing ${bench.tasks.length} tasks...\n`);
  await bench.run();
  if (sink === 0) throw new Error("bench: engines returned nothing");

  const rows: Row[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (!("latency" in r)) {
      const why = "error" in r ? String(r.error) : r.state;
      throw new Error(`bench: task ${task.name} did not complete: ${why}`);
    }
    const c = cases.find((x) => task.name.startsWith(x.label + " "))!;
    const perCall = c.events / c.batches.length;
    rows.push({
      ...meta.get(task.name)!,
      eventsPerSecond: perCall / (r.latency.p50 / 1000),
      rme: r.latency.rme,
      samples: r.latency.samplesCount,
    });
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const header = [
    "case",
    "engine",
    "cmds/event",
    "events/s (median)",
    "±rme",
    "samples",
    "wasm/ts",
  ];
  const body = rows.map((r) => {
    const ts = rows.find((x) => x.label === r.label && x.engine === "ts");
    const ratio =
      r.engine === "wasm" && ts
        ? (r.eventsPerSecond / ts.eventsPerSecond).toFixed(2) + "x"
        : "";
    return [
      r.label,
      r.engine,
      r.commandsPerEvent.toFixed(1),
      fmt.format(r.eventsPerSecond),
      r.rme.toFixed(1) + "%",
      String(r.samples),
      ratio,
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i]!.length)),
  );
  // Text columns left, numbers right, as a Markdown table so the output
  // pastes straight into notes.
  const line = (cells: string[]) =>
    "| " +
    cells
      .map((cell, i) =>
        i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
      )
      .join(" | ") +
    " |";
  console.log(line(header));
  console.log(
    "| " +
      widths
        .map((w, i) => (i < 2 ? "-".repeat(w) : "-".repeat(w - 1) + ":"))
        .join(" | ") +
      " |",
  );
  for (const cells of body) console.log(line(cells));
}

async function main(): Promise<void> {
  const root = repoRoot();
  const timeMs = Number(args.time);
  const levels = args.levels.split(",").map(Number);

  const events = generateEvents(SAMPLE_EVENTS, 42);
  const cases: Case[] = levels.map((n) => ({
    label: `level ${n}`,
    config: levelConfig(n),
    batches: toBatches(events, BATCH_EVENTS),
    events: events.length,
  }));
  const flights = await flightsCase(root);
  if (typeof flights === "string") console.log(flights);
  else cases.push(flights);
  for (const c of cases) verify(c);
  process.stderr.write("bench: both engines agree on every batch\n");

  const rows = await measure(cases, timeMs);

  const cpu = cpus()[0]?.model ?? "unknown cpu";
  console.log(
    `traqq bench: node ${process.version}, ${cpu}, ${cpus().length} cores; ` +
      `${BATCH_EVENTS} events per call, ${timeMs} ms per task`,
  );
  printTable(rows);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
