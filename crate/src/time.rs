//! Event times and the day and hour buckets of a time zone.
//!
//! A bucket is the unix second at which its local day (or hour) starts.
//! Days last 23, 24 or 25 hours, so nothing here assumes 86400: every
//! start comes from the zone's rules, and the two 01:00 hours of a
//! fall-back night are two buckets.

use chrono::LocalResult;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

/// 0001-01-01T00:00:00Z, the earliest event time accepted.
pub const MIN_TIME: i64 = -62_135_596_800;
/// 2099-12-31T23:59:59Z, the latest event time accepted: chrono-tz
/// computes zone transitions through 2099 only, and later instants would
/// get a wrong offset (the TypeScript engine's Temporal has no limit, so
/// the two would disagree).
pub const MAX_TIME: i64 = 4_102_444_799;

/// Day and hour starts in one zone, with the current day remembered:
/// events of a batch mostly fall on a few days.
pub struct Buckets {
    tz: Tz,
    day: Option<(i64, i64)>,
}

impl Buckets {
    pub fn new(tz: Tz) -> Self {
        Buckets { tz, day: None }
    }

    /// The unix second at which the local day containing `t` starts.
    pub fn day_start(&mut self, t: i64) -> i64 {
        if let Some((start, end)) = self.day {
            if start <= t && t < end {
                return start;
            }
        }
        let date = self.local(t).date();
        let start = self.start_of_date(date);
        let end = match date.succ_opt() {
            Some(next) => self.start_of_date(next),
            None => i64::MAX,
        };
        // A zone stepping back over midnight can put `t` outside the pair.
        if start <= t && t < end {
            self.day = Some((start, end));
        }
        start
    }

    /// The unix second at which the local hour containing `t` starts.
    pub fn hour_start(&mut self, t: i64) -> i64 {
        let local = self.local(t);
        let Some(top) = local.with_minute(0).and_then(|l| l.with_second(0)) else {
            return t;
        };
        match self.tz.from_local_datetime(&top) {
            LocalResult::Single(x) if x.timestamp() <= t => x.timestamp(),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.timestamp(), b.timestamp());
                match (a <= t, b <= t) {
                    (true, true) => a.max(b),
                    (true, false) => a,
                    (false, true) => b,
                    (false, false) => self.first_instant(t, |l| hour_key(&l) >= hour_key(&local)),
                }
            }
            _ => self.first_instant(t, |l| hour_key(&l) >= hour_key(&local)),
        }
    }

    fn local(&self, t: i64) -> NaiveDateTime {
        let utc = DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix();
        utc + offset
    }

    /// The first instant whose local date is `date`. Where local midnight
    /// does not exist, that is the end of the gap.
    fn start_of_date(&self, date: NaiveDate) -> i64 {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.tz.from_local_datetime(&midnight) {
            LocalResult::Single(x) => x.timestamp(),
            LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
            LocalResult::None => {
                let guess = midnight.and_utc().timestamp();
                self.first_instant(guess + 26 * 3600, |l| l.date() >= date)
            }
        }
    }

    /// Binary search for the first instant at or before `hi` for which
    /// `reached` holds, given that it holds at `hi` and not 27 hours
    /// earlier (no zone's offset moves further).
    fn first_instant(&self, hi: i64, reached: impl Fn(NaiveDateTime) -> bool) -> i64 {
        let (mut lo, mut hi) = (hi - 54 * 3600, hi);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if reached(self.local(mid)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

fn hour_key(l: &NaiveDateTime) -> (NaiveDate, u32) {
    (l.date(), l.hour())
}

/// Parses an RFC 3339 date-time with an offset (`2024-11-03T01:30:00-04:00`,
/// `...Z`) into unix seconds; fractions are dropped and a leap second
/// `:60` counts as `:59`. `None` when the text is not of that form.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && (at(10, b'T') || at(10, b't'))) {
        return None;
    }
    if !(at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b':') => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if sign == b'-' {
                -minutes * 60
            } else {
                minutes * 60
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86400 + hour * 3600 + minute * 60 + second.min(59) - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
