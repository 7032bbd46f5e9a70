/**
 * Request bodies of `POST /events` as NDJSON lines for the engine. JSON
 * bodies are checked and cut into their events without `JSON.parse`:
 * each event keeps its own text, so number literals reach the engine
 * with every digit (an ID beyond 2^53 stays exact, as the spec asks).
 */

/** A body that cannot be read; the message says where, `body: …`. */
export class BodyError extends Error {
  override name = "BodyError";
}

/** Events of one request as NDJSON text, one line per event. */
export interface BodyLines {
  /** NDJSON text; every line ends with `\n`. Empty when there is no event. */
  text: string;
  /** Lines in `text`; blank ones included. */
  lines: number;
  /** Lines holding only JSON white space: neither accepted nor rejected. */
  blanks: number;
}

const NONE: BodyLines = { text: "", lines: 0, blanks: 0 };

/**
 * Cuts NDJSON into lines as the engine reads it (split on `\n`; a final
 * `\n` starts no line). Lines are not checked here: the engine rejects
 * a bad line on its own, with its index.
 *
 * @example
 * ndjsonLines('{"event":"a"}\n\n{"event":"b"}'); // { lines: 3, blanks: 1, ... }
 */
export function ndjsonLines(body: string): BodyLines {
  const text = stripBom(body);
  if (text === "") return NONE;
  const parts = text.split("\n");
  if (text.endsWith("\n")) parts.pop();
  let blanks = 0;
  for (const p of parts) if (/^[ \t\r]*$/.test(p)) blanks++;
  return {
    text: text.endsWith("\n") ? text : text + "\n",
    lines: parts.length,
    blanks,
  };
}

/**
 * Turns a JSON body, one event object or an array of events, into one
 * NDJSON line per event. Elements that are not objects stay: the engine
 * rejects them with their index. Throws a {@link BodyError} naming the
 * line and column of a syntax error.
 *
 * @example
 * jsonLines('[{"event":"a"},\n {"event":"b"}]').text; // '{"event":"a"}\n{"event":"b"}\n'
 */
export function jsonLines(body: string): BodyLines {
  const text = stripBom(body);
  const spans = scan(text);
  if (spans === null) {
    const first = text.trimStart()[0];
    const kind =
      first === '"'
        ? "a string"
        : first === "t" || first === "f"
          ? "a boolean"
          : first === "n"
            ? "null"
            : "a number";
    throw new BodyError(
      `body: expected an event object or an array of events, got ${kind}`,
    );
  }
  let out = "";
  for (const [start, end] of spans) {
    // In valid JSON a line break can only be white space between tokens.
    out += text.slice(start, end).replace(/[\r\n]/g, " ") + "\n";
  }
  return { text: out, lines: spans.length, blanks: 0 };
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

const ARRAY = 0;
const OBJECT = 1;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Checks that `text` is one JSON value and returns the spans of the
 * events in it: the whole value when it is an object, each element when
 * it is an array, `null` for anything else. Iterative, so a deeply
 * nested body cannot overflow the stack.
 */
function scan(text: string): [number, number][] | null {
  const n = text.length;
  let i = 0;
  const stack: number[] = [];
  const spans: [number, number][] = [];
  let rootIsArray = false;
  let elementStart = -1;

  const fail = (what: string): never => {
    throw new BodyError(`body: invalid JSON at ${where(text, i)}: ${what}`);
  };
  const ws = () => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    }
  };
  const found = (): string =>
    i >= n ? "the body ends" : `found ${JSON.stringify(text[i])}`;
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail("control character inside a string");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            fail("\\u must be followed by four hex digits");
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          i++;
          fail("invalid escape in a string");
        }
      } else i++;
    }
  };

  ws();
  if (i >= n) fail("the body is empty");
  const rootChar = text[i];
  rootIsArray = rootChar === "[";
  const rootStart = i;

  // One value: containers push onto the stack; after a value, either
  // the container goes on (`,`), ends, or the document ends.
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      ws();
      if (rootIsArray && stack.length === 1) elementStart = i;
      const c = text[i];
      if (c === "{") {
        i++;
        ws();
        if (text[i] === "}") i++;
        else {
          stack.push(OBJECT);
          key();
          continue;
        }
      } else if (c === "[") {
        i++;
        ws();
        if (text[i] === "]") i++;
        else {
          stack.push(ARRAY);
          continue;
        }
      } else if (c === '"') {
        string();
      } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
        NUMBER.lastIndex = i;
        if (!NUMBER.test(text)) fail("invalid number");
        i = NUMBER.lastIndex;
      } else if (text.startsWith("true", i)) i += 4;
      else if (text.startsWith("false", i)) i += 5;
      else if (text.startsWith("null", i)) i += 4;
      else fail(`expected a value, ${found()}`);
      expectValue = false;
    }

    // After a value.
    if (rootIsArray && stack.length === 1) spans.push([elementStart, i]);
    ws();
    if (stack.length === 0) {
      if (i < n) fail(`unexpected data after the JSON value, ${found()}`);
      break;
    }
    const top = stack[stack.length - 1];
    const c = text[i];
    if (c === ",") {
      i++;
      if (top === OBJECT) key();
      expectValue = true;
    } else if (top === ARRAY && c === "]") {
      i++;
      stack.pop();
    } else if (top === OBJECT && c === "}") {
      i++;
      stack.pop();
    } else {
      fail(`expected ',' or '${top === ARRAY ? "]" : "}"}', ${found()}`);
    }
  }

  function key(): void {
    ws();
    if (text[i] !== '"')
      fail(`expected a property name in double quotes, ${found()}`);
    string();
    ws();
    if (text[i] !== ":") fail(`expected ':', ${found()}`);
    i++;
    expectValue = true;
  }

  if (rootChar === "{") return [[rootStart, i]];
  if (rootIsArray) return spans;
  return null;
}

/** `line 3, column 7` (both from 1; columns count UTF-16 units). */
function where(text: string, at: number): string {
  let line = 1;
  let lineStart = 0;
  for (
    let k = text.indexOf("\n");
    k >= 0 && k < at;
    k = text.indexOf("\n", k + 1)
  ) {
    line++;
    lineStart = k + 1;
  }
  return `line ${line}, column ${at - lineStart + 1}`;
}
