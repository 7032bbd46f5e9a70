/**
 * Request bodies of `POST /events`: JSON is checked and cut into one
 * NDJSON line per event, with where a syntax error is; NDJSON lines are
 * counted as the engine counts them.
 */
import { describe, expect, it } from "vitest";

import { jsonLines, ndjsonLines } from "../ts/body.js";

describe("request bodies", () => {
  it.each([
    ['{"event":"a"}', '{"event":"a"}\n', 1],
    ['[{"event":"a"},{"event":"b"}]', '{"event":"a"}\n{"event":"b"}\n', 2],
    [
      '[\n  {\n    "event": "a"\n  },\n  7,\n  [1, {"x": [2]}]\n]',
      '{     "event": "a"   }\n7\n[1, {"x": [2]}]\n',
      3,
    ],
    ["[]", "", 0],
    [
      ' \ufeff[{"id": 12345678901234567890}]'.trimStart(),
      '{"id": 12345678901234567890}\n',
      1,
    ],
    ['[{"s":"a\\"]b\\u00e9"}]', '{"s":"a\\"]b\\u00e9"}\n', 1],
  ])("jsonLines(%j)", (body, text, lines) => {
    expect(jsonLines(body)).toEqual({ text, lines, blanks: 0 });
  });

  it.each([
    ["[1,]", 'line 1, column 4: expected a value, found "]"'],
    ['{"a":1', "line 1, column 7: expected ',' or '}', the body ends"],
    ['{"a":"x\ny"}', "line 1, column 8: control character inside a string"],
    ['{"a":01}', "line 1, column 7: expected ',' or '}', found \"1\""],
    ['{"a":-}', "line 1, column 6: invalid number"],
    ['{"a":"\\x"}', "line 1, column 8: invalid escape in a string"],
    ['[{"a":tru}]', "line 1, column 7: expected a value"],
  ])("rejects %s", (body, message) => {
    expect(() => jsonLines(body)).toThrow(message);
  });

  it("rejects deep nesting without overflowing the stack", () => {
    expect(() => jsonLines("[".repeat(100_000))).toThrow(
      "line 1, column 100001: expected a value, the body ends",
    );
  });

  it("counts NDJSON lines and blank lines as the engine does", () => {
    expect(ndjsonLines("")).toEqual({ text: "", lines: 0, blanks: 0 });
    expect(ndjsonLines("a\n\n \t\r\nb")).toEqual({
      text: "a\n\n \t\r\nb\n",
      lines: 4,
      blanks: 2,
    });
    expect(ndjsonLines("\ufeffa\n")).toEqual({
      text: "a\n",
      lines: 1,
      blanks: 0,
    });
  });
});
