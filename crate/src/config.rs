//! The config: its shape, its defaults and its validation.
//!
//! Validation happens once, when a config is loaded; messages start with
//! the path of the offending field (`mapping.add[2]: ...`), the same
//! texts the TypeScript layer gives.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::Deserialize;

/// A config, every default filled in; field names are camelCase in JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
#[derive(Default)]
pub struct Config {
    pub prefix: String,
    pub time: TimeConfig,
    pub mapping: MappingConfig,
    pub limits: LimitsConfig,
}

/// Which zone the buckets follow, and where the event time comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct TimeConfig {
    pub timezone: String,
    pub store_hourly: bool,
    pub event_time_field: Option<String>,
    pub event_time_unit: TimeUnit,
}

/// The unit of a numeric event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TimeUnit {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
}

/// The patterns each metric type is fed by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct MappingConfig {
    pub bitmap: Vec<String>,
    pub add: Vec<String>,
    pub add_value: Vec<AddValue>,
    pub top: Vec<String>,
}

/// A sum of the property `add_key` per value of the pattern `key`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddValue {
    pub key: String,
    pub add_key: String,
}

/// Bounds on what one event may produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct LimitsConfig {
    pub max_field_length: usize,
    pub max_value_length: usize,
    pub max_combinations: usize,
    pub max_metrics_per_event: usize,
}

impl Default for TimeConfig {
    fn default() -> Self {
        TimeConfig {
            timezone: "UTC".into(),
            store_hourly: false,
            event_time_field: None,
            event_time_unit: TimeUnit::Seconds,
        }
    }
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            bitmap: Vec::new(),
            add: vec!["event".into()],
            add_value: Vec::new(),
            top: Vec::new(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_field_length: 128,
            max_value_length: 512,
            max_combinations: 1000,
            max_metrics_per_event: 1000,
        }
    }
}

/// Why a config was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses a JSON config and validates it.
    ///
    /// ```
    /// let c = traqq::Config::from_json(r#"{"mapping":{"bitmap":["ip"]}}"#).unwrap();
    /// assert_eq!(c.mapping.add, vec!["event".to_string()]);
    /// ```
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            serde_json::from_str(text).map_err(|e| ConfigError(format!("config: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule of the spec's section 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |path: &str, msg: String| ConfigError(format!("{path}: {msg}"));
        let err = |path: &str, msg: String| Err(fail(path, msg));
        if self
            .prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return err(
                "prefix",
                "must not contain white space or control characters".into(),
            );
        }
        if Tz::from_str(&self.time.timezone).is_err() {
            return err(
                "time.timezone",
                format!("unknown IANA time zone {}", quoted(&self.time.timezone)),
            );
        }
        if let Some(field) = &self.time.event_time_field {
            if let Err(msg) = check_name(field) {
                return err("time.eventTimeField", msg);
            }
        }
        let limits = [
            ("maxFieldLength", self.limits.max_field_length),
            ("maxValueLength", self.limits.max_value_length),
            ("maxCombinations", self.limits.max_combinations),
            ("maxMetricsPerEvent", self.limits.max_metrics_per_event),
        ];
        for (name, value) in limits {
            if value < 1 {
                return err(&format!("limits.{name}"), "must be at least 1".into());
            }
            if value > 1_000_000_000 {
                return err(
                    &format!("limits.{name}"),
                    "must be at most 1000000000".into(),
                );
            }
        }

        let m = &self.mapping;
        for (kind, list) in [("bitmap", &m.bitmap), ("add", &m.add), ("top", &m.top)] {
            let mut seen = HashSet::new();
            for (i, pattern) in list.iter().enumerate() {
                let path = format!("mapping.{kind}[{i}]");
                let canonical = canonical_pattern(pattern).map_err(|msg| fail(&path, msg))?;
                if !seen.insert(canonical) {
                    return err(&path, format!("duplicate pattern {}", quoted(pattern)));
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, av) in m.add_value.iter().enumerate() {
            let path = format!("mapping.addValue[{i}]");
            let canonical =
                canonical_pattern(&av.key).map_err(|msg| fail(&format!("{path}.key"), msg))?;
            if let Err(msg) = check_name(&av.add_key) {
                return err(&format!("{path}.addKey"), msg);
            }
            if !seen.insert((canonical, av.add_key.clone())) {
                return err(
                    &path,
                    format!(
                        "duplicate pattern {} with addKey {}",
                        quoted(&av.key),
                        quoted(&av.add_key)
                    ),
                );
            }
        }
        let total = m.bitmap.len() + m.add.len() + m.add_value.len() + m.top.len();
        if total > self.limits.max_combinations {
            return err(
                "mapping",
                format!(
                    "{total} patterns, more than limits.maxCombinations ({})",
                    self.limits.max_combinations
                ),
            );
        }
        Ok(())
    }
}

/// A pattern with its property names sorted by code point: `b~a` → `a~b`.
pub fn canonical_pattern(pattern: &str) -> Result<String, String> {
    let mut names: Vec<&str> = pattern.split('~').collect();
    for name in &names {
        if name.is_empty() {
            return Err(format!("pattern {} has an empty part", quoted(pattern)));
        }
        check_name(name).map_err(|msg| format!("pattern {}: {msg}", quoted(pattern)))?;
    }
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "pattern {} names {} twice",
            quoted(pattern),
            quoted(w[0])
        ));
    }
    Ok(names.join("~"))
}

/// A property name: non-empty, no `~`, `:`, white space or control character.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("property name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '~' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "property name {} holds {}",
            quoted(name),
            describe_char(c)
        ));
    }
    // Reading a nested name descends one object per part; a bound keeps
    // a hostile event from exhausting the stack.
    if name.split('.').count() > MAX_NAME_PARTS {
        return Err(format!(
            "property name {} nests more than {MAX_NAME_PARTS} levels deep",
            quoted(name)
        ));
    }
    Ok(())
}

/// The most `.`-separated parts a property name may have.
pub const MAX_NAME_PARTS: usize = 32;

fn describe_char(c: char) -> String {
    match c {
        '~' | ':' => format!("'{c}'"),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c => format!("white space U+{:04X}", c as u32),
    }
}

/// A string as JSON writes it, for messages that quote user input.
pub(crate) fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}
