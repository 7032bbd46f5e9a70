/**
 * Runs both engines over every line of `data/flights.ndjson` and proves
 * they agree: each batch's raw outputs must be equal strings, and a
 * SHA-256 over each engine's whole output is printed for the record.
 *
 * Usage: `node dist/bench/flights-run.js [FILE] [--config FILE]
 * [--batch LINES]`. Exits 1 if the engines disagree anywhere.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createEngineSync, loadConfigFile } from "../ts/node.js";
import type { EngineName } from "../ts/types.js";
import {
  addToTally,
  describeMismatch,
  textBatches,
  newTally,
  repoRoot,
} from "./lines.js";

// Only events without a `time` would use it; fixed so runs repeat.
const NOW_MS = Date.UTC(2024, 9, 1, 12, 0, 0);
const ENGINES: EngineName[] = ["wasm", "ts"];
const MAX_REPORTED = 3;

const { values: args, positionals } = parseArgs({
  options: {
    config: { type: "string" },
    batch: { type: "string", default: "4096" },
  },
  allowPositionals: true,
});

async function main(): Promise<void> {
  const root = repoRoot();
  const file = resolve(positionals[0] ?? join(root, "data", "flights.ndjson"));
  const configPath = resolve(
    args.config ?? join(root, "examples", "flights.json"),
  );
  const batchLines = Number(args.batch);
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: node dist/scripts/flights.js makes it`,
    );
  }
  const config = loadConfigFile(configPath);
  const engines = ENGINES.map((name) => ({
    name,
    engine: createEngineSync({ config, engine: name, clock: () => NOW_MS }),
    hash: createHash("sha256"),
    ms: 0,
    bytes: 0,
  }));

  const tally = newTally();
  let batches = 0;
  let lines = 0;
  let mismatches = 0;
  const started = performance.now();
  for await (const batch of textBatches(file, batchLines)) {
    const outputs: string[] = [];
    // Alternating which engine goes first spreads the cost of garbage
    // collections the other one left behind.
    const order = batches % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const e = engines[k]!;
      const t0 = performance.now();
      outputs[k] = e.engine.processLines(batch, NOW_MS);
      e.ms += performance.now() - t0;
    }
    for (const [k, e] of engines.entries()) {
      e.hash.update(outputs[k]!);
      e.bytes += Buffer.byteLength(outputs[k]!);
    }
    const diff = describeMismatch(outputs[0]!, outputs[1]!);
    if (diff !== null) {
      if (mismatches < MAX_REPORTED) {
        console.error(
          `flights-run: batch ${batches} (from input line ${lines + 1}) ` +
            `differs, ${diff}`,
        );
      }
      mismatches++;
    }
    addToTally(tally, outputs[0]!);
    batches++;
    lines = tally.accepted + tally.rejected + tally.blank;
    if (batches % 100 === 0) {
      process.stderr.write(`flights-run: ${lines} lines\n`);
    }
  }
  const wallS = (performance.now() - started) / 1000;
  for (const e of engines) e.engine.free();

  const events = tally.accepted + tally.rejected;
  const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  console.log(
    `flights-run: ${file}\n` +
      `  ${fmt.format(events)} events in ${batches} batches of ` +
      `${batchLines} lines: ${fmt.format(tally.accepted)} accepted, ` +
      `${fmt.format(tally.rejected)} rejected, ` +
      `${fmt.format(tally.commands)} commands`,
  );
  for (const [reason, n] of tally.reasons) {
    console.log(`  rejected ${fmt.format(n)}x: ${reason}`);
  }
  for (const e of engines) {
    const rate = events / (e.ms / 1000);
    console.log(
      `  ${e.name.padEnd(4)} ${fmt.format(rate).padStart(10)} events/s ` +
        `(${(e.ms / 1000).toFixed(2)} s in processLines), ` +
        `output ${fmt.format(e.bytes)} bytes, sha256 ${e.hash.digest("hex")}`,
    );
  }
  const [wasm, ts] = engines;
  console.log(
    `  wasm/ts ${(ts!.ms / wasm!.ms).toFixed(2)}x; wall ${wallS.toFixed(1)} s`,
  );
  if (mismatches > 0) {
    console.log(`  DISAGREE: ${mismatches} of ${batches} batches differ`);
    process.exit(1);
  }
  console.log(`  agree: all ${batches} batches are equal strings`);
}

main().catch((err: unknown) => {
  console.error(`flights-run: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
