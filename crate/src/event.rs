//! Reading the properties of one event out of its JSON text.
//!
//! Only the properties some pattern names are decoded: every other member
//! is passed over as raw JSON, and nested objects are entered only when a
//! needed name starts with their path. serde_json still checks the whole
//! line, so a syntax error anywhere rejects the event.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A property as read from the text, before sanitizing.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop<'a> {
    Absent,
    Str(Cow<'a, str>),
    /// A number literal, exactly as written.
    Num(&'a str),
    Bool(bool),
    Object,
}

/// Why a line is not an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    Eof,
    Syntax,
    NotObject,
}

impl ParseError {
    pub fn reason(self) -> &'static str {
        match self {
            ParseError::Eof => "invalid JSON: unexpected end of input",
            ParseError::Syntax => "invalid JSON: syntax error",
            ParseError::NotObject => "event must be a JSON object",
        }
    }
}

/// FNV-1a: keys are short property names, and SipHash's guard against
/// flooding buys nothing for a table fixed by the config.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// The property names an engine reads, each with a slot number.
pub struct Fields {
    ids: FastMap<String, usize>,
    /// Paths of objects that hold a needed name (`device` for `device.type`).
    parents: FastSet<String>,
    count: usize,
}

impl Fields {
    pub fn new() -> Self {
        Fields {
            ids: FastMap::default(),
            parents: FastSet::default(),
            count: 0,
        }
    }

    /// The slot of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.count;
        self.count += 1;
        self.ids.insert(name.to_owned(), id);
        for (i, _) in name.match_indices('.') {
            self.parents.insert(name[..i].to_owned());
        }
        id
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reads the needed properties of one JSON line into `slots`.
    pub fn read<'a>(&self, line: &'a str, slots: &mut Vec<Prop<'a>>) -> Result<(), ParseError> {
        slots.clear();
        slots.resize(self.count, Prop::Absent);
        if has_raw_control_in_string(line) {
            return Err(ParseError::Syntax);
        }
        if line
            .trim_start_matches([' ', '\t', '\r', '\n'])
            .starts_with('{')
        {
            let mut de = serde_json::Deserializer::from_str(line);
            let seed = ObjectSeed {
                fields: self,
                prefix: "",
                slots,
            };
            seed.deserialize(&mut de).map_err(classify)?;
            de.end().map_err(classify)
        } else {
            match serde_json::from_str::<&RawValue>(line) {
                Ok(_) => Err(ParseError::NotObject),
                Err(e) => Err(classify(e)),
            }
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a control character stands unescaped where JSON forbids it.
/// serde_json refuses them in strings, except in keys read as bytes (as
/// ours are, to let lone surrogates through), so keys are checked here.
/// Any such byte outside a string is a syntax error too, so finding one
/// anywhere settles the line.
fn has_raw_control_in_string(line: &str) -> bool {
    let bytes = line.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20) {
        return false;
    }
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            } else if b < 0x20 {
                return true;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b < 0x20 && !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            return true;
        }
    }
    false
}

fn classify(e: serde_json::Error) -> ParseError {
    if e.is_eof() {
        ParseError::Eof
    } else {
        ParseError::Syntax
    }
}

struct ObjectSeed<'s, 'a> {
    fields: &'s Fields,
    prefix: &'s str,
    slots: &'s mut Vec<Prop<'a>>,
}

impl<'de, 's> DeserializeSeed<'de> for ObjectSeed<'s, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for ObjectSeed<'s, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let raw: &'de RawValue = map.next_value()?;
            if self.prefix.is_empty() {
                self.member(&key.0, raw);
            } else {
                let full = format!("{}{}", self.prefix, key.0);
                self.member(&full, raw);
            }
        }
        Ok(())
    }
}

impl<'s, 'de> ObjectSeed<'s, 'de> {
    fn member(&mut self, name: &str, raw: &'de RawValue) {
        let text = raw.get();
        let first = text.as_bytes().first().copied().unwrap_or(b'n');
        if let Some(&id) = self.fields.ids.get(name) {
            self.slots[id] = match first {
                b'"' => Prop::Str(decode_string(text)),
                b'{' => Prop::Object,
                b't' => Prop::Bool(true),
                b'f' => Prop::Bool(false),
                b'n' | b'[' => Prop::Absent,
                _ => Prop::Num(text),
            };
        }
        if first == b'{' && self.fields.parents.contains(name) {
            let prefix = format!("{name}.");
            let mut de = serde_json::Deserializer::from_str(text);
            let seed = ObjectSeed {
                fields: self.fields,
                prefix: &prefix,
                slots: self.slots,
            };
            // The text was checked as raw JSON already, so this cannot fail.
            let _ = seed.deserialize(&mut de);
        }
    }
}

/// An object key, unescaped, with lone surrogates replaced by U+FFFD.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(BytesVisitor)
            .map(|b| Key(wtf8_to_utf8(b)))
    }
}

/// A JSON string's bytes; serde_json hands lone surrogates over as WTF-8
/// when asked for bytes instead of refusing them.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Cow<'de, [u8]>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON string")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Decodes the raw text of a JSON string (quotes included).
fn decode_string(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(&text[1..text.len() - 1]);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_bytes(BytesVisitor) {
        Ok(bytes) => Cow::Owned(wtf8_to_utf8(bytes).into_owned()),
        Err(_) => Cow::Borrowed(""),
    }
}

/// Replaces the surrogate code points of WTF-8 by U+FFFD.
fn wtf8_to_utf8(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(replace_surrogates(b)),
        },
        Cow::Owned(b) => match String::from_utf8(b) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(replace_surrogates(e.as_bytes())),
        },
    }
}

fn replace_surrogates(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                // A surrogate is three bytes in WTF-8: ED A0..BF 80..BF.
                let skip = if rest.len() >= 3 && rest[0] == 0xED {
                    3
                } else {
                    1
                };
                b = &rest[skip.min(rest.len())..];
            }
        }
    }
}
