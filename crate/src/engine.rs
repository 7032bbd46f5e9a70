//! The hot path: NDJSON lines in, Redis commands (or rejections) out, in
//! the raw batch format that `ts/batch.ts` documents.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono_tz::Tz;

use crate::config::{canonical_pattern, quoted, Config, ConfigError, TimeUnit};
use crate::event::{Fields, Prop};
use crate::sanitize::{format_number, is_integer_literal, is_json_number, sanitize};
use crate::time::{parse_rfc3339, Buckets, MAX_TIME, MIN_TIME};

/// A pattern, its names sorted, with the slot of each name.
struct Pattern {
    name: String,
    slots: Vec<usize>,
}

struct Sum {
    pattern: Pattern,
    add_key: String,
    amount: usize,
}

/// Why a batch could not be processed at all (single events never fail
/// a batch: they are rejected in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError(pub String);

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BatchError {}

/// A long-lived engine for one config.
///
/// ```
/// let config = traqq::Config::from_json(r#"{"mapping":{"bitmap":["ip"]}}"#).unwrap();
/// let mut engine = traqq::Engine::new(config).unwrap();
/// let out = engine.process_lines(r#"{"event":"a","ip":"1.2.3.4"}"#, 0.0).unwrap();
/// assert_eq!(out, "+2\nPFADD\u{1f}bmp:d:0:ip\u{1f}1.2.3.4\nINCR\u{1f}add:d:0:event:a\n");
/// ```
pub struct Engine {
    config: Config,
    fields: Fields,
    event: usize,
    time_field: Option<(usize, String)>,
    bitmap: Vec<Pattern>,
    add: Vec<Pattern>,
    sums: Vec<Sum>,
    top: Vec<Pattern>,
    buckets: Buckets,
    /// `<prefix>:`, or empty.
    key_prefix: String,
    /// The current `d:<ts>:` and `h:<ts>:` key segments.
    stamps: [(i64, String); 2],
    /// Scratch space for a pattern's joined values.
    joined: String,
}

impl Engine {
    /// Builds an engine; the config is validated again here.
    pub fn new(config: Config) -> Result<Engine, ConfigError> {
        config.validate()?;
        let tz = Tz::from_str(&config.time.timezone)
            .map_err(|_| ConfigError("time.timezone: unknown zone".to_string()))?;
        let mut fields = Fields::new();
        let event = fields.intern("event");
        let time_field = config
            .time
            .event_time_field
            .as_ref()
            .map(|f| (fields.intern(f), f.clone()));
        let mut compile = |p: &str| {
            let name = canonical_pattern(p).unwrap_or_default();
            let slots = name.split('~').map(|n| fields.intern(n)).collect();
            Pattern { name, slots }
        };
        let m = &config.mapping;
        let bitmap = m.bitmap.iter().map(|p| compile(p)).collect();
        let add = m.add.iter().map(|p| compile(p)).collect();
        let top = m.top.iter().map(|p| compile(p)).collect();
        let mut sums = Vec::new();
        for av in &m.add_value {
            let pattern = compile(&av.key);
            sums.push(Sum {
                pattern,
                add_key: av.add_key.clone(),
                amount: 0,
            });
        }
        for (sum, av) in sums.iter_mut().zip(&m.add_value) {
            sum.amount = fields.intern(&av.add_key);
        }
        let key_prefix = if config.prefix.is_empty() {
            String::new()
        } else {
            format!("{}:", config.prefix)
        };
        Ok(Engine {
            fields,
            event,
            time_field,
            bitmap,
            add,
            sums,
            top,
            buckets: Buckets::new(tz),
            key_prefix,
            config,
            stamps: Default::default(),
            joined: String::new(),
        })
    }

    /// The config this engine runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Processes NDJSON text as one batch. `now_ms` is the processing
    /// time, used for events without an event time.
    pub fn process_lines(&mut self, input: &str, now_ms: f64) -> Result<String, BatchError> {
        let now = (now_ms / 1000.0).floor();
        if !(now >= MIN_TIME as f64 && now <= MAX_TIME as f64) {
            return Err(BatchError(format!(
                "processing time {now_ms} ms is out of range"
            )));
        }
        let now = now as i64;
        let body = input.strip_suffix('\n').unwrap_or(input);
        let mut out = String::with_capacity(input.len() * 2);
        if input.is_empty() {
            return Ok(out);
        }
        let mut slots = Vec::with_capacity(self.fields.len());
        let mut values: Vec<Option<Cow<str>>> = Vec::with_capacity(self.fields.len());
        let mut amounts: Vec<Option<Cow<str>>> = Vec::with_capacity(self.sums.len());
        for line in body.split('\n') {
            if line.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                out.push('\n');
                continue;
            }
            let mark = out.len();
            let result = self
                .event(line, now, &mut slots, &mut values, &mut amounts, &mut out)
                .and_then(|()| {
                    if out.len() - mark > MAX_RECORD_BYTES {
                        Err(Cow::Borrowed(TOO_MANY_BYTES))
                    } else {
                        Ok(())
                    }
                });
            if let Err(reason) = result {
                out.truncate(mark);
                out.push('-');
                out.push_str(&reason);
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// Appends one accepted event's record to `out`, or says why not.
    fn event<'a>(
        &mut self,
        line: &'a str,
        now: i64,
        slots: &mut Vec<Prop<'a>>,
        values: &mut Vec<Option<Cow<'a, str>>>,
        amounts: &mut Vec<Option<Cow<'a, str>>>,
        out: &mut String,
    ) -> Result<(), Cow<'static, str>> {
        self.fields
            .read(line, slots)
            .map_err(|e| Cow::Borrowed(e.reason()))?;
        let limits = &self.config.limits;

        let event = match &slots[self.event] {
            Prop::Str(s) => sanitize_cow(s, limits.max_field_length)
                .ok_or(Cow::Borrowed("event name cannot be empty"))?,
            Prop::Absent => return Err(Cow::Borrowed("missing required 'event' field")),
            _ => return Err(Cow::Borrowed("'event' field must be a string")),
        };
        let t = match &self.time_field {
            Some((slot, name)) => match event_time(
                &slots[*slot],
                name,
                self.config.time.event_time_unit,
                limits.max_value_length,
            )? {
                Some(t) => t,
                None => now,
            },
            None => now,
        };

        values.clear();
        values.extend(slots.iter().map(|p| match p {
            Prop::Str(s) => sanitize_cow(s, limits.max_value_length),
            Prop::Num(lit) => format_number(lit),
            Prop::Bool(true) => Some(Cow::Borrowed("true")),
            Prop::Bool(false) => Some(Cow::Borrowed("false")),
            Prop::Absent | Prop::Object => None,
        }));
        values[self.event] = Some(event);
        amounts.clear();
        amounts.extend(
            self.sums
                .iter()
                .map(|s| amount(&slots[s.amount], limits.max_value_length)),
        );

        let present = |p: &Pattern| p.slots.iter().all(|&s| values[s].is_some());
        let matched = self.bitmap.iter().filter(|p| present(p)).count()
            + self.add.iter().filter(|p| present(p)).count()
            + self
                .sums
                .iter()
                .zip(amounts.iter())
                .filter(|(s, a)| a.is_some() && present(&s.pattern))
                .count()
            + self.top.iter().filter(|p| present(p)).count();
        let per_pattern = if self.config.time.store_hourly { 2 } else { 1 };
        let n = matched * per_pattern;
        if n > limits.max_metrics_per_event {
            return Err(Cow::Owned(format!(
                "event produces {n} commands, more than limits.maxMetricsPerEvent ({})",
                limits.max_metrics_per_event
            )));
        }

        let day = self.buckets.day_start(t);
        stamp(&mut self.stamps[0], 'd', day);
        let hourly = self.config.time.store_hourly;
        if hourly {
            let hour = self.buckets.hour_start(t);
            stamp(&mut self.stamps[1], 'h', hour);
        }
        let stamps = &self.stamps[..if hourly { 2 } else { 1 }];
        let _ = writeln!(out, "+{n}");
        let kp = self.key_prefix.as_str();
        let v = &mut self.joined;
        for p in self.bitmap.iter().filter(|p| present(p)) {
            join_values(v, p, values);
            for (_, st) in stamps {
                command(out, &["PFADD\u{1f}", kp, "bmp:", st, &p.name, "\u{1f}", v]);
            }
        }
        for p in self.add.iter().filter(|p| present(p)) {
            join_values(v, p, values);
            for (_, st) in stamps {
                command(out, &["INCR\u{1f}", kp, "add:", st, &p.name, ":", v]);
            }
        }
        for (s, a) in self.sums.iter().zip(amounts.iter()) {
            let Some(a) = a else { continue };
            if !present(&s.pattern) {
                continue;
            }
            join_values(v, &s.pattern, values);
            for (_, st) in stamps {
                let (k, name) = (&s.add_key, &s.pattern.name);
                command(
                    out,
                    &[
                        "INCRBYFLOAT\u{1f}",
                        kp,
                        "adv:",
                        st,
                        k,
                        ":",
                        name,
                        ":",
                        v,
                        "\u{1f}",
                        a,
                    ],
                );
            }
        }
        for p in self.top.iter().filter(|p| present(p)) {
            join_values(v, p, values);
            for (_, st) in stamps {
                command(
                    out,
                    &["ZINCRBY\u{1f}", kp, "top:", st, &p.name, "\u{1f}1\u{1f}", v],
                );
            }
        }
        Ok(())
    }
}

/// The most bytes (UTF-8) one accepted event's record may take in the raw
/// batch: without a bound, a few hundred patterns over long values make
/// megabytes per event, and a batch more than a JavaScript string holds.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

const TOO_MANY_BYTES: &str = "event produces more than 1048576 bytes of commands";

/// Appends one command line of the raw batch format.
#[inline]
fn command(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
    out.push('\n');
}

/// A pattern's values joined by `~`, in its (sorted) name order.
fn join_values(into: &mut String, p: &Pattern, values: &[Option<Cow<'_, str>>]) {
    into.clear();
    for (i, &slot) in p.slots.iter().enumerate() {
        if i > 0 {
            into.push('~');
        }
        into.push_str(values[slot].as_deref().unwrap_or(""));
    }
}

/// `d:<ts>:`, rewritten only when the bucket changes (rarely, in a batch).
fn stamp(cached: &mut (i64, String), kind: char, ts: i64) {
    if cached.0 != ts || cached.1.is_empty() {
        cached.0 = ts;
        cached.1.clear();
        let _ = write!(cached.1, "{kind}:{ts}:");
    }
}

fn sanitize_cow<'a>(s: &Cow<'a, str>, max: usize) -> Option<Cow<'a, str>> {
    match s {
        Cow::Borrowed(b) => sanitize(b, max),
        Cow::Owned(o) => sanitize(o, max).map(|c| Cow::Owned(c.into_owned())),
    }
}

/// The amount of an `addValue`, written as a number literal would be.
fn amount<'a>(p: &Prop<'a>, max: usize) -> Option<Cow<'a, str>> {
    match p {
        Prop::Num(lit) => finite_amount(lit),
        Prop::Str(s) => {
            let clean = sanitize(s, max)?;
            if !is_json_number(&clean) {
                return None;
            }
            finite_amount(&clean).map(|c| Cow::Owned(c.into_owned()))
        }
        _ => None,
    }
}

/// A number literal as an amount: like a property value, but an integer
/// too long for a double is no amount (Redis could not add it either).
fn finite_amount(lit: &str) -> Option<Cow<'_, str>> {
    if is_integer_literal(lit) && !lit.parse::<f64>().is_ok_and(f64::is_finite) {
        return None;
    }
    format_number(lit)
}

/// The event time in unix seconds; `None` means use the processing time.
fn event_time(
    p: &Prop<'_>,
    field: &str,
    unit: TimeUnit,
    max_chars: usize,
) -> Result<Option<i64>, Cow<'static, str>> {
    let out_of_range = || Cow::Owned(format!("event time '{field}' is out of range"));
    let seconds = match p {
        Prop::Absent => return Ok(None),
        Prop::Bool(_) | Prop::Object => {
            return Err(Cow::Owned(format!(
                "event time '{field}' must be a number or an RFC 3339 string"
            )))
        }
        Prop::Str(s) => {
            let text = s.trim();
            let Some(t) = parse_rfc3339(text) else {
                let shown: String = text.chars().take(max_chars).collect();
                return Err(Cow::Owned(format!(
                    "event time '{field}' is not an RFC 3339 date-time: {}",
                    quoted(&shown)
                )));
            };
            t
        }
        Prop::Num(lit) if is_integer_literal(lit) => {
            let v: i64 = lit.parse().map_err(|_| out_of_range())?;
            match unit {
                TimeUnit::Seconds => v,
                TimeUnit::Millis => v.div_euclid(1000),
            }
        }
        Prop::Num(lit) => {
            let v: f64 = lit.parse().unwrap_or(f64::NAN);
            if !v.is_finite() {
                return Ok(None);
            }
            let s = match unit {
                TimeUnit::Seconds => v.floor(),
                TimeUnit::Millis => (v / 1000.0).floor(),
            };
            if !(s >= MIN_TIME as f64 && s <= MAX_TIME as f64) {
                return Err(out_of_range());
            }
            s as i64
        }
    };
    if !(MIN_TIME..=MAX_TIME).contains(&seconds) {
        return Err(out_of_range());
    }
    Ok(Some(seconds))
}
