/**
 * Cutting NDJSON bytes into batches (`ts/lines.ts`): every line lands in
 * exactly one batch whatever the chunking, batches respect their limits,
 * and a line over the length limit is replaced by `null` and listed.
 */
import { describe, expect, it } from "vitest";

import {
  lineBatches,
  MAX_LINE_BYTES,
  TOO_LONG_PLACEHOLDER,
  tooLongError,
  type LineBatch,
} from "../ts/lines.js";

async function* chunked(
  text: string,
  sizes: number[],
): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(
  text: string,
  sizes: number[],
  maxLines: number,
  options: { maxBytes?: number; maxLineBytes?: number } = {},
): Promise<LineBatch[]> {
  const out: LineBatch[] = [];
  for await (const b of lineBatches(chunked(text, sizes), maxLines, options)) {
    out.push(b);
  }
  return out;
}

/** The input as the batches should give it back, and which lines go. */
function expected(text: string, maxLineBytes: number) {
  const lines = text.split("\n");
  // A final `\n` ends the last line rather than starting another.
  if (text.endsWith("\n") || text === "") lines.pop();
  const tooLong: number[] = [];
  const kept = lines.map((l, i) => {
    if (Buffer.byteLength(l) <= maxLineBytes) return l;
    tooLong.push(i);
    return TOO_LONG_PLACEHOLDER;
  });
  const joined = kept.join("\n") + (text.endsWith("\n") ? "\n" : "");
  return { text: joined, lines: lines.length, tooLong };
}

/** Absolute line indices of the overlong lines, over all batches. */
function absoluteTooLong(batches: LineBatch[]): number[] {
  const out: number[] = [];
  let base = 0;
  for (const b of batches) {
    for (const i of b.tooLong) out.push(base + i);
    base += b.lines;
  }
  return out;
}

describe("lineBatches", () => {
  it.each([
    // text, chunk sizes, maxLines, maxLineBytes
    ["a\nb\nc\n", [1], 2, 10],
    ["a\nb\nc", [2, 3], 2, 10],
    ["", [1], 2, 10],
    ["\n\n\n", [1], 2, 10],
    ["short\n" + "x".repeat(30) + "\nend\n", [4], 10, 8],
    ["short\n" + "x".repeat(30) + "\nend\n", [100], 10, 8],
    // An overlong line that starts mid-chunk and ends in a later one.
    ["ab\n" + "y".repeat(25) + "\ncd", [5, 7], 1, 8],
    // An overlong, unterminated last line.
    ["ok\n" + "z".repeat(40), [3], 3, 8],
    // Exactly at the limit: kept.
    ["12345678\n123456789\n", [4], 10, 8],
    // Multi-byte characters count as bytes.
    ["ééééé\n", [1, 2], 10, 8],
    // Overlong lines in a row.
    ["x".repeat(20) + "\n" + "y".repeat(20) + "\n", [6], 10, 8],
  ])(
    "%j in chunks of %j, %i lines a batch, lines up to %i bytes",
    async (text, sizes, maxLines, maxLineBytes) => {
      const batches = await collect(text, sizes, maxLines, { maxLineBytes });
      const want = expected(text, maxLineBytes);
      expect(Buffer.concat(batches.map((b) => b.bytes)).toString()).toBe(
        want.text,
      );
      expect(batches.reduce((n, b) => n + b.lines, 0)).toBe(want.lines);
      expect(absoluteTooLong(batches)).toEqual(want.tooLong);
      for (const b of batches) {
        expect(b.lines).toBeLessThanOrEqual(maxLines);
        // Only the last batch may end inside a line.
        if (b !== batches.at(-1)) expect(b.bytes.at(-1)).toBe(0x0a);
      }
    },
  );

  it("matches a plain split on random input and chunkings", async () => {
    let s = 7;
    const rnd = (n: number) => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return Math.floor((s / 2147483648) * n);
    };
    for (let round = 0; round < 200; round++) {
      let text = "";
      const count = rnd(12);
      for (let i = 0; i < count; i++) {
        text += "abcé".repeat(rnd(6)) + (rnd(5) > 0 ? "\n" : "");
      }
      const sizes = [1 + rnd(9), 1 + rnd(30)];
      const maxLines = 1 + rnd(4);
      const maxLineBytes = rnd(12);
      const maxBytes = 1 + rnd(20);
      const batches = await collect(text, sizes, maxLines, {
        maxBytes,
        maxLineBytes,
      });
      const want = expected(text, maxLineBytes);
      const got = Buffer.concat(batches.map((b) => b.bytes)).toString();
      expect(got, JSON.stringify({ text, sizes, maxLineBytes })).toBe(
        want.text,
      );
      expect(absoluteTooLong(batches)).toEqual(want.tooLong);
      expect(batches.reduce((n, b) => n + b.lines, 0)).toBe(want.lines);
    }
  });

  it("never holds an overlong line: its bytes are dropped as they come", async () => {
    // 1 GiB of one line, streamed in 1 MiB chunks that are never copied:
    // if the line were kept, the batch would be a 1 GiB Buffer.
    const mib = Buffer.alloc(1 << 20, 0x61);
    async function* huge(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"event":"a"}\n');
      for (let i = 0; i < 1024; i++) yield mib;
      yield Buffer.from('\n{"event":"b"}\n');
    }
    const batches: LineBatch[] = [];
    for await (const b of lineBatches(huge(), 4096)) batches.push(b);
    const text = Buffer.concat(batches.map((b) => b.bytes)).toString();
    expect(text).toBe('{"event":"a"}\nnull\n{"event":"b"}\n');
    expect(absoluteTooLong(batches)).toEqual([1]);
    expect(Math.max(...batches.map((b) => b.bytes.length))).toBeLessThan(100);
  });

  it("says how long is too long", () => {
    expect(tooLongError()).toBe("line is longer than 64 MiB");
    expect(MAX_LINE_BYTES).toBe(64 << 20);
    expect(tooLongError(1000)).toBe("line is longer than 1000 bytes");
  });
});
