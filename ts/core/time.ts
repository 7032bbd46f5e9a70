/**
 * Event times and the day and hour buckets of a zone: the TypeScript
 * twin of `crate/src/time.rs`, with zone rules from Temporal.
 *
 * A bucket is the unix second at which its local day (or hour) starts;
 * nothing assumes a day lasts 86400 seconds.
 */
import { Temporal } from "temporal-polyfill";

/** 0001-01-01T00:00:00Z, the earliest event time accepted. */
export const MIN_TIME = -62_135_596_800;
/**
 * 2099-12-31T23:59:59Z, the latest event time accepted: the Rust core's
 * zone rules (chrono-tz) end there, and both engines must agree.
 */
export const MAX_TIME = 4_102_444_799;

type Local = Temporal.PlainDateTime;

/** Day and hour starts in one zone, with the current day remembered. */
export class Buckets {
  private dayFrom = 1;
  private dayTo = 0;
  /** The offset of the remembered day, when it holds all day long. */
  private dayOffset: number | null = null;

  constructor(private readonly tz: string) {}

  /** The unix second at which the local day containing `t` starts. */
  dayStart(t: number): number {
    if (this.dayFrom <= t && t < this.dayTo) return this.dayFrom;
    const date = this.local(t).toPlainDate();
    const start = this.startOfDate(date);
    const end = this.startOfDate(date.add({ days: 1 }));
    if (start <= t && t < end) {
      this.dayFrom = start;
      this.dayTo = end;
      const zoned = Temporal.Instant.fromEpochMilliseconds(
        start * 1000,
      ).toZonedDateTimeISO(this.tz);
      const next = zoned.getTimeZoneTransition("next");
      const uniform = next === null || next.epochMilliseconds / 1000 >= end;
      this.dayOffset = uniform ? zoned.offsetNanoseconds / 1e9 : null;
    }
    return start;
  }

  /** The unix second at which the local hour containing `t` starts. */
  hourStart(t: number): number {
    // With one offset all day, local hours start where local time is a
    // whole hour; the first may have begun before a day that starts late
    // (midnight skipped), and then the day's start is the hour's.
    if (this.dayOffset !== null && this.dayFrom <= t && t < this.dayTo) {
      const intoHour = (((t + this.dayOffset) % 3600) + 3600) % 3600;
      return Math.max(this.dayFrom, t - intoHour);
    }
    const local = this.local(t);
    const top = local.with({ minute: 0, second: 0 });
    const key = hourKey(local);
    const found = this.possible(top);
    const atOrBefore = found.filter((x) => x <= t);
    if (found.length > 0 && atOrBefore.length > 0) {
      return Math.max(...atOrBefore);
    }
    return this.firstInstant(t, (l) => hourKey(l) >= key);
  }

  private local(t: number): Local {
    return Temporal.Instant.fromEpochMilliseconds(t * 1000)
      .toZonedDateTimeISO(this.tz)
      .toPlainDateTime();
  }

  /** The instants whose local time is `dt`: none (a gap), one or two. */
  private possible(dt: Local): number[] {
    const at = (d: "earlier" | "later") =>
      dt.toZonedDateTime(this.tz, { disambiguation: d });
    const early = at("earlier");
    if (!early.toPlainDateTime().equals(dt)) return [];
    const late = at("later");
    const a = early.epochMilliseconds / 1000;
    const b = late.epochMilliseconds / 1000;
    return a === b ? [a] : [a, b];
  }

  /** The first instant whose local date is `date` (the end of a gap at midnight). */
  private startOfDate(date: Temporal.PlainDate): number {
    const found = this.possible(date.toPlainDateTime());
    if (found.length > 0) return Math.min(...found);
    const guess = daysFromCivil(date.year, date.month, date.day) * 86400;
    const key = dateKey(date);
    return this.firstInstant(guess + 26 * 3600, (l) => dateKey(l) >= key);
  }

  /**
   * Binary search for the first instant at or before `hi` for which
   * `reached` holds, given that it holds at `hi` and not 54 hours earlier.
   */
  private firstInstant(hi: number, reached: (l: Local) => boolean): number {
    let lo = hi - 54 * 3600;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (reached(this.local(mid))) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

/** Sortable keys; a year is at most 5 digits here (years 0 to 10000). */
function dateKey(d: { year: number; month: number; day: number }): string {
  return `${String(d.year).padStart(5, "0")}-${pad2(d.month)}-${pad2(d.day)}`;
}

function hourKey(l: Local): string {
  return `${dateKey(l)}T${pad2(l.hour)}`;
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/**
 * Parses an RFC 3339 date-time with an offset into unix seconds;
 * fractions are dropped and a leap second `:60` counts as `:59`.
 * `null` when the text is not of that form.
 */
export function parseRfc3339(s: string): number | null {
  const num = (from: number, len: number): number => {
    if (from + len > s.length) return -1;
    let v = 0;
    for (let k = from; k < from + len; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return -1;
      v = v * 10 + (c - 0x30);
    }
    return v;
  };
  const at = (i: number, c: string) => s[i] === c;
  if (!(at(4, "-") && at(7, "-") && (at(10, "T") || at(10, "t")))) return null;
  if (!(at(13, ":") && at(16, ":"))) return null;
  const fields = [
    num(0, 4),
    num(5, 2),
    num(8, 2),
    num(11, 2),
    num(14, 2),
    num(17, 2),
  ];
  if (fields.some((v) => v < 0)) return null;
  const [year, month, day, hour, minute, second] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  let i = 19;
  if (at(i, ".")) {
    i++;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39)
      i++;
    if (i === start) return null;
  }
  let offset: number;
  const z = s[i];
  if ((z === "Z" || z === "z") && i + 1 === s.length) {
    offset = 0;
  } else if ((z === "+" || z === "-") && i + 6 === s.length && at(i + 3, ":")) {
    const oh = num(i + 1, 2);
    const om = num(i + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return null;
    offset = (z === "-" ? -1 : 1) * (oh * 60 + om) * 60;
  } else {
    return null;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return null;
  }
  if (hour > 23 || minute > 59 || second > 60) return null;
  const days = daysFromCivil(year, month, day);
  return (
    days * 86400 + hour * 3600 + minute * 60 + Math.min(second, 59) - offset
  );
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
