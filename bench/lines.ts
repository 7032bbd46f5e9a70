/**
 * File helpers shared by the benchmark and the flights run: finding the
 * repository, streaming NDJSON in batches, and tallying raw batches.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { decodeBatch, type BatchRecord } from "../ts/batch.js";
import { lineBatches } from "../ts/lines.js";

/** The repository root; the flights converter finds it the same way. */
export { repoRoot } from "../scripts/flights.js";

/**
 * Streams a file as NDJSON batches of `size` lines, each batch one string
 * (the last may be shorter), so memory stays flat. The cutting is the
 * CLI's own (`ts/lines.ts`).
 */
export async function* textBatches(
  path: string,
  size: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  for await (const batch of lineBatches(input, size)) {
    yield decoder.decode(batch.bytes);
  }
}

/** Every `every`-th line of a file (the first included), at most `max`. */
export async function sampleLines(
  path: string,
  every: number,
  max: number,
): Promise<string[]> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const out: string[] = [];
  let n = 0;
  for await (const line of lines) {
    if (n++ % every === 0) out.push(line);
    if (out.length >= max) break;
  }
  input.destroy();
  return out;
}

/** Counts of what a run of raw batches held. */
export interface Tally {
  accepted: number;
  rejected: number;
  blank: number;
  commands: number;
  /** Rejection reasons and how often each occurred. */
  reasons: Map<string, number>;
}

/** An empty {@link Tally}. */
export function newTally(): Tally {
  return {
    accepted: 0,
    rejected: 0,
    blank: 0,
    commands: 0,
    reasons: new Map(),
  };
}

/**
 * Adds one raw batch (the format of `ts/batch.ts`) to `tally`. It walks
 * the records without splitting commands: on millions of events
 * `decodeBatch` would allocate an array per command just to count it.
 */
export function addToTally(tally: Tally, raw: string): void {
  let pos = 0;
  while (pos < raw.length) {
    let end = raw.indexOf("\n", pos);
    if (end < 0) throw new Error(`raw batch: unterminated record at ${pos}`);
    const head = raw.charCodeAt(pos);
    if (end === pos) {
      tally.blank++;
    } else if (head === 0x2d /* - */) {
      const reason = raw.slice(pos + 1, end);
      tally.rejected++;
      tally.reasons.set(reason, (tally.reasons.get(reason) ?? 0) + 1);
    } else {
      const n = Number(raw.slice(pos + 1, end));
      tally.accepted++;
      tally.commands += n;
      for (let i = 0; i < n; i++) {
        end = raw.indexOf("\n", end + 1);
        if (end < 0) throw new Error(`raw batch: record at ${pos} cut short`);
      }
    }
    pos = end + 1;
  }
}

/**
 * Explains where two raw batches of the same input part ways: the first
 * input line whose records differ, with both records, or `null` if equal.
 */
export function describeMismatch(
  a: string,
  b: string,
  names: [string, string] = ["wasm", "ts"],
): string | null {
  if (a === b) return null;
  const left = [...decodeBatch(a)];
  const right = [...decodeBatch(b)];
  const show = (r: BatchRecord | undefined) =>
    r === undefined ? "(nothing)" : JSON.stringify(r);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = show(left[i]);
    const r = show(right[i]);
    if (l !== r) {
      return `line ${i + 1}:\n  ${names[0]}: ${l}\n  ${names[1]}: ${r}`;
    }
  }
  return "records decode equal, but the raw strings differ";
}
