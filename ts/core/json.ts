/**
 * Reads the needed properties of one event out of its JSON text, as the
 * Rust core does with serde_json: the whole line is checked, only needed
 * members are decoded, and a syntax error is classed as "the input ended
 * too soon" or not at the same points serde_json classes it. Skipping is
 * iterative, so deep nesting in unused members costs no stack.
 */

/** What a slot holds; `Str` and `Num` carry text in `Props.text`. */
export const enum Kind {
  Absent = 0,
  Str = 1,
  Num = 2,
  True = 3,
  False = 4,
  Object = 5,
}

/** Why a line is not an event. */
export const enum ParseError {
  None = 0,
  Eof = 1,
  Syntax = 2,
  NotObject = 3,
}

/** The rejection reason of a {@link ParseError}. */
export function parseErrorReason(e: ParseError): string {
  switch (e) {
    case ParseError.Eof:
      return "invalid JSON: unexpected end of input";
    case ParseError.NotObject:
      return "event must be a JSON object";
    default:
      return "invalid JSON: syntax error";
  }
}

/** The properties of one event, by slot. */
export interface Props {
  kind: Uint8Array;
  text: string[];
}

/** Thrown inside the scanner; caught once per line. */
class Stop {
  constructor(readonly error: ParseError) {}
}
const EOF = new Stop(ParseError.Eof);
const SYNTAX = new Stop(ParseError.Syntax);

/** The property names an engine reads, each with a slot number. */
export class Fields {
  private readonly ids = new Map<string, number>();
  /** Paths of objects that hold a needed name (`device` for `device.type`). */
  private readonly parents = new Set<string>();

  /** The slot of `name`, added if new. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id !== undefined) return id;
    id = this.ids.size;
    this.ids.set(name, id);
    for (let i = name.indexOf("."); i >= 0; i = name.indexOf(".", i + 1)) {
      this.parents.add(name.slice(0, i));
    }
    return id;
  }

  get size(): number {
    return this.ids.size;
  }

  /** Reads one line into `props`; `ParseError.None` when it is an object. */
  read(line: string, props: Props): ParseError {
    props.kind.fill(Kind.Absent);
    const sc = new Scanner(line, this, props);
    try {
      sc.ws();
      if (sc.peek() === 0x7b /* { */) {
        sc.i++;
        sc.object("");
        sc.end();
        return ParseError.None;
      }
      sc.skipValue();
      sc.end();
      return ParseError.NotObject;
    } catch (e) {
      if (e instanceof Stop) return e.error;
      throw e;
    }
  }

  /** @internal */
  lookup(name: string): number | undefined {
    return this.ids.get(name);
  }

  /** @internal */
  isParent(name: string): boolean {
    return this.parents.has(name);
  }
}

const HEX = /^[0-9a-fA-F]{4}$/;

class Scanner {
  i = 0;
  private readonly n: number;

  constructor(
    private readonly s: string,
    private readonly fields: Fields,
    private readonly props: Props,
  ) {
    this.n = s.length;
  }

  peek(): number {
    return this.i < this.n ? this.s.charCodeAt(this.i) : -1;
  }

  ws(): void {
    const s = this.s;
    while (this.i < this.n) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return;
      this.i++;
    }
  }

  /** Only white space may follow the value. */
  end(): void {
    this.ws();
    if (this.i < this.n) throw SYNTAX;
  }

  /** The members of an object whose `{` was just read. */
  object(prefix: string): void {
    let first = true;
    for (;;) {
      this.ws();
      let c = this.peek();
      if (c === -1) throw EOF;
      if (c === 0x7d /* } */) {
        this.i++;
        return;
      }
      if (!first) {
        if (c !== 0x2c /* , */) throw SYNTAX;
        this.i++;
        this.ws();
        c = this.peek();
        if (c === -1) throw EOF;
      }
      first = false;
      if (c !== 0x22 /* " */) throw SYNTAX;
      this.i++;
      const name = prefix + this.string();
      this.ws();
      c = this.peek();
      if (c === -1) throw EOF;
      if (c !== 0x3a /* : */) throw SYNTAX;
      this.i++;
      this.member(name);
    }
  }

  private member(name: string): void {
    const id = this.fields.lookup(name);
    const parent = this.fields.isParent(name);
    this.ws();
    const c = this.peek();
    if (c === 0x7b /* { */ && (id !== undefined || parent)) {
      if (id !== undefined) this.props.kind[id] = Kind.Object;
      this.i++;
      if (parent) this.object(name + ".");
      else this.skipRest(0x7b);
      return;
    }
    if (id === undefined) {
      this.skipValue();
      return;
    }
    const { kind, text } = this.props;
    if (c === 0x22 /* " */) {
      this.i++;
      text[id] = this.string();
      kind[id] = Kind.Str;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = this.i;
      this.skipValue();
      text[id] = this.s.slice(start, this.i);
      kind[id] = Kind.Num;
    } else {
      this.skipValue();
      kind[id] = c === 0x74 ? Kind.True : c === 0x66 ? Kind.False : Kind.Absent;
    }
  }

  /** A string whose `"` was just read, unescaped; lone surrogates become U+FFFD. */
  string(): string {
    const s = this.s;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= this.n) throw EOF;
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out.isWellFormed() ? out : out.toWellFormed();
      }
      if (c === 0x5c /* \ */) {
        out += s.slice(start, this.i);
        this.i++;
        out += this.escape();
        start = this.i;
      } else if (c < 0x20) {
        throw SYNTAX;
      } else {
        this.i++;
      }
    }
  }

  private escape(): string {
    if (this.i >= this.n) throw EOF;
    const c = this.s[this.i++]!;
    switch (c) {
      case '"':
      case "\\":
      case "/":
        return c;
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "u":
        return String.fromCharCode(this.hex4());
      default:
        throw SYNTAX;
    }
  }

  /** Four hex digits; serde_json counts what is left in UTF-8 bytes. */
  private hex4(): number {
    const rest = this.n - this.i;
    if (rest < 4 && utf8Length(this.s.slice(this.i)) < 4) {
      this.i = this.n;
      throw EOF;
    }
    const digits = this.s.slice(this.i, this.i + 4);
    this.i += 4;
    if (!HEX.test(digits)) throw SYNTAX;
    return parseInt(digits, 16);
  }

  /** Skips one JSON value, checking it; iterative, as serde_json's is. */
  skipValue(): void {
    this.skipFrom([]);
  }

  /** Skips the rest of an object or array whose opening byte was read. */
  private skipRest(open: number): void {
    this.skipFrom([open], true);
  }

  private skipFrom(stack: number[], opened = false): void {
    let frameOpen = opened;
    for (;;) {
      let accept = false;
      if (!frameOpen) {
        this.ws();
        const c = this.peek();
        if (c === -1) throw EOF;
        if (c === 0x7b || c === 0x5b) {
          this.i++;
          stack.push(c);
        } else {
          this.scalar(c);
          if (stack.length === 0) return;
          accept = true;
        }
      }
      frameOpen = false;
      // Close frames, or find where the next member or element starts.
      let frame = stack[stack.length - 1]!;
      for (;;) {
        this.ws();
        const c = this.peek();
        if (c === -1) throw EOF;
        if (c === 0x2c && accept) {
          this.i++;
          break;
        }
        if ((c === 0x5d && frame === 0x5b) || (c === 0x7d && frame === 0x7b)) {
          this.i++;
          stack.pop();
          if (stack.length === 0) return;
          frame = stack[stack.length - 1]!;
          accept = true;
          continue;
        }
        if (accept) throw SYNTAX;
        break;
      }
      if (frame === 0x7b) {
        this.ws();
        const c = this.peek();
        if (c === -1) throw EOF;
        if (c !== 0x22) throw SYNTAX;
        this.i++;
        this.skipString();
        this.ws();
        const colon = this.peek();
        if (colon === -1) throw EOF;
        if (colon !== 0x3a) throw SYNTAX;
        this.i++;
      }
    }
  }

  private scalar(c: number): void {
    switch (c) {
      case 0x6e:
        return this.ident("null");
      case 0x74:
        return this.ident("true");
      case 0x66:
        return this.ident("false");
      case 0x22:
        this.i++;
        return this.skipString();
      case 0x2d:
        this.i++;
        return this.number();
      default:
        if (c >= 0x30 && c <= 0x39) return this.number();
        throw SYNTAX;
    }
  }

  private ident(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.i >= this.n) throw EOF;
      if (this.s.charCodeAt(this.i++) !== word.charCodeAt(k)) throw SYNTAX;
    }
  }

  private skipString(): void {
    const s = this.s;
    for (;;) {
      if (this.i >= this.n) throw EOF;
      const c = s.charCodeAt(this.i++);
      if (c === 0x22) return;
      if (c === 0x5c) this.escape();
      else if (c < 0x20) throw SYNTAX;
    }
  }

  /** A number after its optional `-`; a cut-short number is a syntax error. */
  private number(): void {
    const c = this.peek();
    if (c === 0x30) {
      this.i++;
      if (isDigit(this.peek())) throw SYNTAX;
    } else if (c >= 0x31 && c <= 0x39) {
      this.digits();
    } else {
      throw SYNTAX;
    }
    let p = this.peek();
    if (p === 0x2e /* . */) {
      this.i++;
      if (this.digits() === 0) throw SYNTAX;
      p = this.peek();
    }
    if (p === 0x65 || p === 0x45) {
      this.i++;
      const sign = this.peek();
      if (sign === 0x2b || sign === 0x2d) this.i++;
      if (this.digits() === 0) throw SYNTAX;
    }
  }

  private digits(): number {
    const start = this.i;
    while (isDigit(this.peek())) this.i++;
    return this.i - start;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}
