/**
 * The raw batch format: what both engines return for a batch of NDJSON
 * lines, in one string, so that a batch crosses the wasm boundary once.
 *
 * For each input line, in order, one record:
 *
 * - accepted: `+<n>\n`, then its `n` commands, one per line;
 * - rejected: `-<reason>\n`;
 * - blank (only JSON white space): `\n`.
 *
 * A command line is its arguments joined by U+001F, then `\n`. Neither
 * can occur inside an argument: sanitizing replaces control characters,
 * and config names may not hold them.
 *
 * The input is split on `\n`; a final `\n` does not start another line.
 * Two engines agree when their raw outputs are equal strings.
 */
import type { Command, EventResult } from "./types.js";

/** Separates the arguments of one command in the raw format. */
export const ARG_SEP = "\x1f";

/** One record of a raw batch, with the input line it came from. */
export type BatchRecord =
  | { kind: "accepted"; index: number; commands: Command[] }
  | { kind: "rejected"; index: number; error: string }
  | { kind: "blank"; index: number };

/**
 * Walks the records of a raw batch. `index` counts input lines from 0,
 * blank ones included.
 *
 * @example
 * for (const r of decodeBatch(raw)) if (r.kind === "rejected") warn(r);
 */
export function* decodeBatch(raw: string): Generator<BatchRecord> {
  let pos = 0;
  for (let index = 0; pos < raw.length; index++) {
    let end = lineEnd(raw, pos);
    const head = raw.charCodeAt(pos);
    if (end === pos) {
      yield { kind: "blank", index };
    } else if (head === 0x2d /* - */) {
      yield { kind: "rejected", index, error: raw.slice(pos + 1, end) };
    } else if (head === 0x2b /* + */) {
      const n = Number(raw.slice(pos + 1, end));
      const commands: Command[] = [];
      for (let i = 0; i < n; i++) {
        const start = end + 1;
        end = lineEnd(raw, start);
        commands.push(raw.slice(start, end).split(ARG_SEP));
      }
      yield { kind: "accepted", index, commands };
    } else {
      throw new Error(`raw batch: unexpected record at offset ${pos}`);
    }
    pos = end + 1;
  }
}

function lineEnd(raw: string, from: number): number {
  const end = raw.indexOf("\n", from);
  if (end < 0) throw new Error(`raw batch: unterminated record at ${from}`);
  return end;
}

/** Per-event results of a raw batch; blank lines give none. */
export function toResults(raw: string): EventResult[] {
  const out: EventResult[] = [];
  for (const r of decodeBatch(raw)) {
    if (r.kind === "accepted") out.push({ ok: true, commands: r.commands });
    else if (r.kind === "rejected") out.push({ ok: false, error: r.error });
  }
  return out;
}

// Bytes that force quoting: space, both quotes, backslash, and what
// redis-cli would not read back unquoted (controls and DEL).
const NEEDS_QUOTES = /[\s"'\\\x00-\x1f\x7f-\x9f]/;

/**
 * Quotes one argument the way `redis-cli` reads it back, only when it
 * must: `a b` becomes `"a b"`, `say "hi"` becomes `"say \"hi\""`.
 */
export function quoteArg(arg: string): string {
  if (arg.length > 0 && !NEEDS_QUOTES.test(arg)) return arg;
  let out = '"';
  for (const ch of arg) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      for (const b of new TextEncoder().encode(ch)) {
        out += "\\x" + b.toString(16).padStart(2, "0");
      }
    } else out += ch;
  }
  return out + '"';
}

/** A command as one line of `redis-cli` input. */
export function formatText(command: Command): string {
  return command.map(quoteArg).join(" ");
}

/** A command as one JSON array of strings. */
export function formatJson(command: Command): string {
  return JSON.stringify(command);
}
