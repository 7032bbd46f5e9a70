/**
 * Cutting a byte stream into batches of whole NDJSON lines, so that a
 * batch crosses into the engine at once and memory stays flat however
 * long the input, and however long one of its lines.
 */

/** A run of lines cut from the input, ready to go to the engine at once. */
export interface LineBatch {
  bytes: Buffer;
  /** Input lines in `bytes`, blank ones and an unterminated last included. */
  lines: number;
  /**
   * 0-based indices (within this batch) of the lines that were longer
   * than the limit: each stands in `bytes` as {@link TOO_LONG_PLACEHOLDER}.
   */
  tooLong: number[];
}

// Whatever the line count, a batch stops growing past this many bytes, so
// memory stays bounded when lines are long.
const MAX_BATCH_BYTES = 4 << 20;

/**
 * The longest line kept by default. A JavaScript string ends at about
 * 512 Mi characters, and a line must be decoded into one: far below
 * that, a line is cut out before it can sink a whole run.
 */
export const MAX_LINE_BYTES = 64 << 20;

/**
 * What an overlong line becomes: `null`, which both engines reject
 * ("event must be a JSON object"), so line numbers stay in step and the
 * caller reports the real reason from {@link LineBatch.tooLong}.
 */
export const TOO_LONG_PLACEHOLDER = "null";

const PLACEHOLDER = Buffer.from(TOO_LONG_PLACEHOLDER);

/** Options of {@link lineBatches}. */
export interface LineBatchOptions {
  /** A batch stops growing past this many bytes; default 4 MiB. */
  maxBytes?: number;
  /**
   * Lines longer than this many bytes (the `\n` aside) are dropped as
   * they stream in and replaced by a placeholder; default 64 MiB.
   */
  maxLineBytes?: number;
}

/**
 * Cuts a byte stream into batches of whole lines (split on `\n` only),
 * at most `maxLines` lines or about `maxBytes` bytes each. No line
 * longer than `maxLineBytes` is ever held: its bytes are dropped as they
 * arrive, and its index is listed in the batch's `tooLong`.
 *
 * @example
 * for await (const b of lineBatches(stream, 4096)) engine.processLines(...);
 */
export async function* lineBatches(
  source: AsyncIterable<Uint8Array>,
  maxLines: number,
  options: LineBatchOptions = {},
): AsyncGenerator<LineBatch> {
  const maxBytes = options.maxBytes ?? MAX_BATCH_BYTES;
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  // `parts` holds the batch's complete lines, then what is kept of the
  // current line: its `carried` bytes from earlier chunks, unless it is
  // being dropped.
  let parts: Uint8Array[] = [];
  let size = 0;
  let lines = 0;
  let tooLong: number[] = [];
  let carried = 0;
  let dropping = false;
  let unterminated = false;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    // `cut` is where the bytes neither in `parts` nor dropped start in
    // this chunk; `start` is where the current line starts in it.
    let cut = 0;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!dropping && carried + end - start > maxLineBytes) {
        if (start > cut) parts.push(chunk.subarray(cut, start));
        size += start - cut;
        size -= dropTail(parts, carried);
        parts.push(PLACEHOLDER);
        size += PLACEHOLDER.length;
        tooLong.push(lines);
        dropping = true;
      }
      if (dropping) cut = end;
      if (nl < 0) {
        carried += end - start;
        break;
      }
      start = nl + 1;
      lines++;
      carried = 0;
      dropping = false;
      if (lines >= maxLines || size + start - cut >= maxBytes) {
        parts.push(chunk.subarray(cut, start));
        yield { bytes: Buffer.concat(parts), lines, tooLong };
        parts = [];
        size = 0;
        lines = 0;
        tooLong = [];
        cut = start;
      }
    }
    if (cut < chunk.length) {
      parts.push(chunk.subarray(cut));
      size += chunk.length - cut;
    }
    unterminated = chunk[chunk.length - 1] !== 0x0a;
  }
  if (size > 0) {
    const last = unterminated ? 1 : 0;
    yield { bytes: Buffer.concat(parts), lines: lines + last, tooLong };
  }
}

/** Removes the last `n` bytes held in `parts`; returns `n`. */
function dropTail(parts: Uint8Array[], n: number): number {
  let left = n;
  while (left > 0) {
    const last = parts[parts.length - 1]!;
    if (last.length <= left) {
      parts.pop();
      left -= last.length;
    } else {
      parts[parts.length - 1] = last.subarray(0, last.length - left);
      left = 0;
    }
  }
  return n;
}

/**
 * The reason reported for a line cut out by {@link lineBatches}.
 *
 * @example
 * tooLongError(); // "line is longer than 64 MiB"
 */
export function tooLongError(maxLineBytes: number = MAX_LINE_BYTES): string {
  const limit =
    maxLineBytes % (1 << 20) === 0
      ? `${maxLineBytes / (1 << 20)} MiB`
      : `${maxLineBytes} bytes`;
  return `line is longer than ${limit}`;
}
