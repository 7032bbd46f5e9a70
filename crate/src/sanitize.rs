//! Sanitizing strings into key-safe values, and reading numbers the way
//! JavaScript writes them.

use std::borrow::Cow;

/// `~` and `:` separate key segments; control characters would break
/// the text output and `redis-cli`.
#[inline]
pub fn is_reserved(c: char) -> bool {
    c == '~' || c == ':' || c.is_control()
}

/// Sanitizes a string value, keeping at most `max_chars` code points.
/// `None` means the value is absent.
///
/// ```
/// assert_eq!(traqq::sanitize("~hello~world~", 512).as_deref(), Some("hello_world"));
/// assert_eq!(traqq::sanitize("ab😀cd", 3).as_deref(), Some("ab😀"));
/// assert_eq!(traqq::sanitize("   ", 512), None);
/// ```
pub fn sanitize(value: &str, max_chars: usize) -> Option<Cow<'_, str>> {
    let trimmed = value.trim();
    let cut = match trimmed.char_indices().nth(max_chars) {
        Some((end, _)) => &trimmed[..end],
        None => trimmed,
    };
    let inner = cut.trim_matches(|c: char| c.is_whitespace() || is_reserved(c));
    if inner.is_empty() {
        return None;
    }
    if !inner.chars().any(is_reserved) {
        return Some(Cow::Borrowed(inner));
    }
    Some(Cow::Owned(
        inner
            .chars()
            .map(|c| if is_reserved(c) { '_' } else { c })
            .collect(),
    ))
}

/// Whether `s` is a whole JSON number: `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`.
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Whether a JSON number literal is an integer literal (no `.`, no exponent).
#[inline]
pub fn is_integer_literal(lit: &str) -> bool {
    !lit.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// A JSON number literal as a property value: integer literals keep their
/// digits (`-0` is `0`), anything else is written as JavaScript's
/// `String(n)` would. `None` when the literal overflows a double.
///
/// ```
/// assert_eq!(traqq::format_number("2868860079149422351").as_deref(), Some("2868860079149422351"));
/// assert_eq!(traqq::format_number("1e21").as_deref(), Some("1e+21"));
/// assert_eq!(traqq::format_number("1e400"), None);
/// ```
pub fn format_number(lit: &str) -> Option<Cow<'_, str>> {
    if is_integer_literal(lit) {
        if lit.starts_with('-') && lit[1..].bytes().all(|b| b == b'0') {
            return Some(Cow::Borrowed("0"));
        }
        return Some(Cow::Borrowed(lit));
    }
    let value: f64 = lit.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let mut buf = ryu_js::Buffer::new();
    Some(Cow::Owned(buf.format_finite(value).to_owned()))
}
