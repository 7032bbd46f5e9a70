/**
 * The TypeScript engine: NDJSON lines in, the raw batch format out (see
 * `ts/batch.ts`), byte for byte what the Rust core gives.
 */
import { ARG_SEP } from "../batch.js";
import { canonicalPattern } from "../config.js";
import type { Core } from "../engine.js";
import type { Config } from "../types.js";
import {
  Fields,
  Kind,
  ParseError,
  parseErrorReason,
  type Props,
} from "./json.js";
import {
  formatNumber,
  isIntegerLiteral,
  isJsonNumber,
  sanitize,
  trimWhiteSpace,
} from "./sanitize.js";
import { Buckets, MAX_TIME, MIN_TIME, parseRfc3339 } from "./time.js";

/** A pattern, its names sorted, with the slot of each name. */
interface Pattern {
  name: string;
  slots: number[];
}

interface Sum {
  pattern: Pattern;
  addKey: string;
  amount: number;
}

/** A rejection inside {@link TsCore.event}. */
class Reject {
  constructor(readonly reason: string) {}
}

/** The TypeScript implementation of the hot path, one per config. */
export class TsCore implements Core {
  private readonly fields = new Fields();
  private readonly event: number;
  private readonly timeField: { slot: number; name: string } | null;
  private readonly bitmap: Pattern[];
  private readonly add: Pattern[];
  private readonly sums: Sum[];
  private readonly top: Pattern[];
  private readonly buckets: Buckets;
  private readonly keyPrefix: string;
  private readonly props: Props;
  private readonly values: (string | null)[];

  constructor(private readonly config: Config) {
    const fields = this.fields;
    this.event = fields.intern("event");
    const tf = config.time.eventTimeField;
    this.timeField = tf === null ? null : { slot: fields.intern(tf), name: tf };
    const compile = (p: string): Pattern => {
      const name = canonicalPattern(p).name;
      return { name, slots: name.split("~").map((n) => fields.intern(n)) };
    };
    const m = config.mapping;
    this.bitmap = m.bitmap.map(compile);
    this.add = m.add.map(compile);
    this.top = m.top.map(compile);
    const patterns = m.addValue.map((av) => compile(av.key));
    this.sums = m.addValue.map((av, i) => ({
      pattern: patterns[i]!,
      addKey: av.addKey,
      amount: fields.intern(av.addKey),
    }));
    this.buckets = new Buckets(config.time.timezone);
    this.keyPrefix = config.prefix === "" ? "" : config.prefix + ":";
    this.props = {
      kind: new Uint8Array(fields.size),
      text: new Array<string>(fields.size).fill(""),
    };
    this.values = new Array<string | null>(fields.size).fill(null);
  }

  processLines(input: string, nowMs: number): string {
    const nowSec = Math.floor(nowMs / 1000);
    if (!(nowSec >= MIN_TIME && nowSec <= MAX_TIME)) {
      throw new Error(`processing time ${nowMs} ms is out of range`);
    }
    if (input === "") return "";
    if (!input.isWellFormed()) input = input.toWellFormed();
    const body = input.endsWith("\n") ? input.slice(0, -1) : input;
    let out = "";
    let from = 0;
    for (;;) {
      let to = body.indexOf("\n", from);
      if (to < 0) to = body.length;
      const line = body.slice(from, to);
      if (isBlank(line)) {
        out += "\n";
      } else {
        try {
          const record = this.eventRecord(line, nowSec);
          if (tooManyBytes(record)) throw new Reject(TOO_MANY_BYTES);
          out += record;
        } catch (e) {
          if (!(e instanceof Reject)) throw e;
          out += "-" + e.reason + "\n";
        }
      }
      if (to >= body.length) break;
      from = to + 1;
    }
    return out;
  }

  free(): void {}

  /** One accepted event's record; throws {@link Reject} otherwise. */
  private eventRecord(line: string, now: number): string {
    const { kind, text } = this.props;
    const err = this.fields.read(line, this.props);
    if (err !== ParseError.None) throw new Reject(parseErrorReason(err));
    const limits = this.config.limits;

    const ek = kind[this.event];
    if (ek === Kind.Absent) throw new Reject("missing required 'event' field");
    if (ek !== Kind.Str) throw new Reject("'event' field must be a string");
    const event = sanitize(text[this.event]!, limits.maxFieldLength);
    if (event === null) throw new Reject("event name cannot be empty");
    let t = now;
    if (this.timeField) {
      const { slot, name } = this.timeField;
      const et = eventTime(
        kind[slot]!,
        text[slot]!,
        name,
        this.config,
        limits.maxValueLength,
      );
      if (et !== null) t = et;
    }

    const values = this.values;
    for (let i = 0; i < values.length; i++) {
      values[i] = value(kind[i]!, text[i]!, limits.maxValueLength);
    }
    values[this.event] = event;
    const amounts = this.sums.map((s) =>
      amount(kind[s.amount]!, text[s.amount]!, limits.maxValueLength),
    );

    const present = (p: Pattern) => p.slots.every((s) => values[s] !== null);
    let matched = 0;
    for (const p of this.bitmap) if (present(p)) matched++;
    for (const p of this.add) if (present(p)) matched++;
    this.sums.forEach((s, i) => {
      if (amounts[i] !== null && present(s.pattern)) matched++;
    });
    for (const p of this.top) if (present(p)) matched++;
    const hourly = this.config.time.storeHourly;
    const n = matched * (hourly ? 2 : 1);
    if (n > limits.maxMetricsPerEvent) {
      throw new Reject(
        `event produces ${n} commands, more than limits.maxMetricsPerEvent (${limits.maxMetricsPerEvent})`,
      );
    }

    const buckets: [string, number][] = [["d", this.buckets.dayStart(t)]];
    if (hourly) buckets.push(["h", this.buckets.hourStart(t)]);
    const joined = (p: Pattern) => p.slots.map((s) => values[s]).join("~");
    const S = ARG_SEP;
    const kp = this.keyPrefix;
    let out = `+${n}\n`;
    for (const p of this.bitmap) {
      if (!present(p)) continue;
      const v = joined(p);
      for (const [b, ts] of buckets)
        out += `PFADD${S}${kp}bmp:${b}:${ts}:${p.name}${S}${v}\n`;
    }
    for (const p of this.add) {
      if (!present(p)) continue;
      const v = joined(p);
      for (const [b, ts] of buckets)
        out += `INCR${S}${kp}add:${b}:${ts}:${p.name}:${v}\n`;
    }
    this.sums.forEach((s, i) => {
      const a = amounts[i];
      if (a === null || !present(s.pattern)) return;
      const v = joined(s.pattern);
      for (const [b, ts] of buckets) {
        out += `INCRBYFLOAT${S}${kp}adv:${b}:${ts}:${s.addKey}:${s.pattern.name}:${v}${S}${a}\n`;
      }
    });
    for (const p of this.top) {
      if (!present(p)) continue;
      const v = joined(p);
      for (const [b, ts] of buckets)
        out += `ZINCRBY${S}${kp}top:${b}:${ts}:${p.name}${S}1${S}${v}\n`;
    }
    return out;
  }
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function value(kind: number, text: string, max: number): string | null {
  switch (kind) {
    case Kind.Str:
      return sanitize(text, max);
    case Kind.Num:
      return formatNumber(text);
    case Kind.True:
      return "true";
    case Kind.False:
      return "false";
    default:
      return null;
  }
}

/** The amount of an `addValue`, written as a number literal would be. */
function amount(kind: number, text: string, max: number): string | null {
  if (kind === Kind.Num) return finiteAmount(text);
  if (kind !== Kind.Str) return null;
  const clean = sanitize(text, max);
  return clean !== null && isJsonNumber(clean) ? finiteAmount(clean) : null;
}

/**
 * A number literal as an amount: like a property value, but an integer
 * too long for a double is no amount (Redis could not add it either).
 */
function finiteAmount(lit: string): string | null {
  if (isIntegerLiteral(lit) && !Number.isFinite(Number(lit))) return null;
  return formatNumber(lit);
}

/** The event time in unix seconds; `null` means use the processing time. */
function eventTime(
  kind: number,
  text: string,
  field: string,
  config: Config,
  maxChars: number,
): number | null {
  const outOfRange = () => new Reject(`event time '${field}' is out of range`);
  let seconds: number;
  switch (kind) {
    case Kind.Absent:
      return null;
    case Kind.True:
    case Kind.False:
    case Kind.Object:
      throw new Reject(
        `event time '${field}' must be a number or an RFC 3339 string`,
      );
    case Kind.Str: {
      const trimmed = trimWhiteSpace(text);
      const t = parseRfc3339(trimmed);
      if (t === null) {
        const shown = Array.from(trimmed).slice(0, maxChars).join("");
        throw new Reject(
          `event time '${field}' is not an RFC 3339 date-time: ${JSON.stringify(shown)}`,
        );
      }
      seconds = t;
      break;
    }
    default: {
      const ms = config.time.eventTimeUnit === "ms";
      if (isIntegerLiteral(text)) {
        // Exact integer arithmetic: i64 in Rust, so longer literals are out of range.
        let v: bigint;
        try {
          v = BigInt(text);
        } catch {
          throw outOfRange();
        }
        if (v < -(2n ** 63n) || v >= 2n ** 63n) throw outOfRange();
        if (ms) v = v / 1000n - (v % 1000n < 0n ? 1n : 0n);
        if (v < BigInt(MIN_TIME) || v > BigInt(MAX_TIME)) throw outOfRange();
        return Number(v);
      }
      const v = Number(text);
      if (!Number.isFinite(v)) return null;
      const s = Math.floor(ms ? v / 1000 : v);
      if (!(s >= MIN_TIME && s <= MAX_TIME)) throw outOfRange();
      return s;
    }
  }
  if (seconds < MIN_TIME || seconds > MAX_TIME) throw outOfRange();
  return seconds;
}

/** The most UTF-8 bytes one accepted event's record may take (as in Rust). */
export const MAX_RECORD_BYTES = 1 << 20;

const TOO_MANY_BYTES = "event produces more than 1048576 bytes of commands";

/**
 * Whether `record` takes more than {@link MAX_RECORD_BYTES} in UTF-8. A
 * UTF-16 unit is 1 to 3 bytes, so only a record near the bound is counted.
 */
function tooManyBytes(record: string): boolean {
  if (record.length * 3 <= MAX_RECORD_BYTES) return false;
  if (record.length > MAX_RECORD_BYTES) return true;
  let bytes = 0;
  for (let i = 0; i < record.length; i++) {
    const c = record.charCodeAt(i);
    // A surrogate pair is 4 bytes over its 2 units (the text is well formed).
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  return bytes > MAX_RECORD_BYTES;
}
