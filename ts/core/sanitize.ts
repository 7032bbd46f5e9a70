/**
 * Sanitizing strings into key-safe values, and number literals into the
 * text JavaScript's `String(n)` gives: the TypeScript twin of
 * `crate/src/sanitize.rs`.
 */

/** Unicode White_Space, as Rust's `char::is_whitespace` (all in the BMP). */
export function isWhiteSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** `~`, `:` and control characters: they would break keys or output. */
export function isReserved(c: number): boolean {
  return c === 0x7e || c === 0x3a || c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

const RESERVED = /[~:\x00-\x1f\x7f-\x9f]/g;

/** Trims Unicode white space from both ends, as Rust's `str::trim`. */
export function trimWhiteSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWhiteSpace(s.charCodeAt(a))) a++;
  while (b > a && isWhiteSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Sanitizes a string value, keeping at most `maxChars` code points;
 * `null` means the value is absent.
 *
 * @example
 * sanitize("~hello~world~", 512); // "hello_world"
 * sanitize("ab😀cd", 3); // "ab😀"
 */
export function sanitize(value: string, maxChars: number): string | null {
  let a = 0;
  let b = value.length;
  while (a < b && isWhiteSpace(value.charCodeAt(a))) a++;
  while (b > a && isWhiteSpace(value.charCodeAt(b - 1))) b--;
  // Cut after maxChars code points; a surrogate pair is one.
  let end = a;
  for (let n = 0; end < b && n < maxChars; n++) {
    const c = value.charCodeAt(end);
    end += c >= 0xd800 && c <= 0xdbff && end + 1 < b ? 2 : 1;
  }
  b = end;
  for (;;) {
    if (a < b && trimmable(value.charCodeAt(a))) a++;
    else break;
  }
  while (b > a && trimmable(value.charCodeAt(b - 1))) b--;
  if (a === b) return null;
  const inner = a === 0 && b === value.length ? value : value.slice(a, b);
  RESERVED.lastIndex = 0;
  return RESERVED.test(inner) ? inner.replace(RESERVED, "_") : inner;
}

function trimmable(c: number): boolean {
  return isWhiteSpace(c) || isReserved(c);
}

const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** Whether `s` is a whole JSON number. */
export function isJsonNumber(s: string): boolean {
  return JSON_NUMBER.test(s);
}

/** Whether a JSON number literal has no fraction and no exponent. */
export function isIntegerLiteral(lit: string): boolean {
  for (let i = 0; i < lit.length; i++) {
    const c = lit.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return false;
  }
  return true;
}

/**
 * A JSON number literal as a property value: integer literals keep their
 * digits (`-0` is `0`), others are written as `String(n)`; `null` when
 * the literal overflows a double.
 */
export function formatNumber(lit: string): string | null {
  if (isIntegerLiteral(lit)) {
    return lit.charCodeAt(0) === 0x2d && /^-0+$/.test(lit) ? "0" : lit;
  }
  const n = Number(lit);
  return Number.isFinite(n) ? String(n) : null;
}
