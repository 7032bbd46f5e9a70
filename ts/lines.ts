/**
 * Cutting a byte stream into batches of whole NDJSON lines, so that a
 * batch crosses into the engine at once and memory stays flat however
 * long the input.
 */

/** A run of lines cut from the input, ready to go to the engine at once. */
export interface LineBatch {
  bytes: Buffer;
  /** Input lines in `bytes`, blank ones and an unterminated last included. */
  lines: number;
}

// Whatever the line count, a batch stops growing past this many bytes, so
// memory stays bounded when lines are long.
const MAX_BATCH_BYTES = 4 << 20;

/**
 * Cuts a byte stream into batches of whole lines (split on `\n` only),
 * at most `maxLines` lines or about `maxBytes` bytes each.
 */
export async function* lineBatches(
  source: AsyncIterable<Uint8Array>,
  maxLines: number,
  maxBytes: number = MAX_BATCH_BYTES,
): AsyncGenerator<LineBatch> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let lines = 0;
  let unterminated = false;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    // `cut` is where the bytes not yet in `parts` start in this chunk.
    let cut = 0;
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, from)) >= 0) {
      from = nl + 1;
      lines++;
      if (lines >= maxLines || size + from - cut >= maxBytes) {
        parts.push(chunk.subarray(cut, from));
        yield { bytes: Buffer.concat(parts), lines };
        parts = [];
        size = 0;
        lines = 0;
        cut = from;
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
    yield { bytes: Buffer.concat(parts), lines: lines + last };
  }
}
