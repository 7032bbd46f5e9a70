/**
 * Loading a config: the shape is checked by a zod schema, then the rules
 * of the spec's section 1 by hand, in the same order and with the same
 * messages as the Rust core (`crate/src/config.rs`).
 */
import { z } from "zod";

import type { Config, ConfigInput } from "./types.js";
import { ZONES } from "./zones.js";

/** A config that breaks a rule; the message starts with the field path. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

// Limits are counts; the wasm core holds them in 32 bits.
const limit = z.number().int().min(1).max(1_000_000_000);

const schema = z
  .object({
    prefix: z.string().default(""),
    time: z
      .object({
        timezone: z.string().default("UTC"),
        storeHourly: z.boolean().default(false),
        eventTimeField: z.string().nullable().default(null),
        eventTimeUnit: z.enum(["s", "ms"]).default("s"),
      })
      .strict()
      .prefault({}),
    mapping: z
      .object({
        bitmap: z.array(z.string()).default([]),
        add: z.array(z.string()).default(["event"]),
        addValue: z
          .array(z.object({ key: z.string(), addKey: z.string() }).strict())
          .default([]),
        top: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxFieldLength: limit.default(128),
        maxValueLength: limit.default(512),
        maxCombinations: limit.default(1000),
        maxMetricsPerEvent: limit.default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/**
 * Fills in the defaults of a config and checks every rule; throws a
 * {@link ConfigError} naming the field otherwise.
 *
 * @example
 * resolveConfig({ mapping: { bitmap: ["ip"] } }).mapping.add; // ["event"]
 */
export function resolveConfig(input: ConfigInput | Config | unknown): Config {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(describeIssue(parsed.error.issues[0]!));
  }
  const config: Config = parsed.data;
  checkRules(config);
  return config;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path) || "config";
  switch (issue.code) {
    case "unrecognized_keys":
      return `${where}: unknown field ${JSON.stringify(issue.keys[0])}`;
    case "invalid_type":
      return `${where}: expected ${issue.expected}`;
    case "invalid_value":
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return `${where}: must be at least ${issue.minimum}`;
    case "too_big":
      return `${where}: must be at most ${issue.maximum}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** `["mapping", "add", 2]` → `mapping.add[2]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += (out ? "." : "") + String(part);
  }
  return out;
}

function checkRules(config: Config): void {
  const fail = (path: string, msg: string): never => {
    throw new ConfigError(`${path}: ${msg}`);
  };
  if (!config.prefix.isWellFormed()) {
    fail("prefix", "holds a lone surrogate");
  }
  if (/[\p{White_Space}\p{Cc}]/u.test(config.prefix)) {
    fail("prefix", "must not contain white space or control characters");
  }
  if (!ZONES.has(config.time.timezone)) {
    fail(
      "time.timezone",
      `unknown IANA time zone ${JSON.stringify(config.time.timezone)}`,
    );
  }
  const timeField = config.time.eventTimeField;
  if (timeField !== null) {
    const msg = checkName(timeField);
    if (msg) fail("time.eventTimeField", msg);
  }

  const m = config.mapping;
  for (const kind of ["bitmap", "add", "top"] as const) {
    const seen = new Set<string>();
    m[kind].forEach((pattern, i) => {
      const path = `mapping.${kind}[${i}]`;
      const canonical = canonicalPattern(pattern);
      if (canonical.error) fail(path, canonical.error);
      if (seen.has(canonical.name)) {
        fail(path, `duplicate pattern ${JSON.stringify(pattern)}`);
      }
      seen.add(canonical.name);
    });
  }
  const seen = new Set<string>();
  m.addValue.forEach((av, i) => {
    const path = `mapping.addValue[${i}]`;
    const canonical = canonicalPattern(av.key);
    if (canonical.error) fail(`${path}.key`, canonical.error);
    const msg = checkName(av.addKey);
    if (msg) fail(`${path}.addKey`, msg);
    const id = `${canonical.name}\n${av.addKey}`;
    if (seen.has(id)) {
      const [key, addKey] = [av.key, av.addKey].map((s) => JSON.stringify(s));
      fail(path, `duplicate pattern ${key} with addKey ${addKey}`);
    }
    seen.add(id);
  });
  const total =
    m.bitmap.length + m.add.length + m.addValue.length + m.top.length;
  if (total > config.limits.maxCombinations) {
    fail(
      "mapping",
      `${total} patterns, more than limits.maxCombinations (${config.limits.maxCombinations})`,
    );
  }
}

/**
 * A pattern with its property names sorted by code point, as keys spell
 * it: `utm_source~event` → `event~utm_source`.
 */
export function canonicalPattern(pattern: string): {
  name: string;
  error?: string;
} {
  const names = pattern.split("~");
  const quoted = JSON.stringify(pattern);
  for (const name of names) {
    if (name === "")
      return { name: "", error: `pattern ${quoted} has an empty part` };
    const msg = checkName(name);
    if (msg) return { name: "", error: `pattern ${quoted}: ${msg}` };
  }
  names.sort(compareCodePoints);
  for (let i = 1; i < names.length; i++) {
    if (names[i] === names[i - 1]) {
      const twice = JSON.stringify(names[i]);
      return { name: "", error: `pattern ${quoted} names ${twice} twice` };
    }
  }
  return { name: names.join("~") };
}

/** Orders strings by code point, as Rust does; `<` on strings compares UTF-16 units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** The most `.`-separated parts a property name may have (as in Rust). */
export const MAX_NAME_PARTS = 32;

const BAD_NAME_CHAR = /[~:\p{White_Space}\p{Cc}]/u;

/** Why `name` cannot be a property name, or `undefined` if it can. */
function checkName(name: string): string | undefined {
  if (name === "") return "property name is empty";
  // Event keys have lone surrogates replaced, so such a name never matches.
  if (!name.isWellFormed()) {
    return `property name ${JSON.stringify(name)} holds a lone surrogate`;
  }
  const bad = BAD_NAME_CHAR.exec(name);
  if (!bad) {
    // Reading a nested name descends one object per part; a bound keeps
    // a hostile event from exhausting the stack.
    if (name.split(".").length > MAX_NAME_PARTS) {
      return `property name ${JSON.stringify(name)} nests more than ${MAX_NAME_PARTS} levels deep`;
    }
    return undefined;
  }
  const c = bad[0];
  const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  const what =
    c === "~" || c === ":"
      ? `'${c}'`
      : /\p{Cc}/u.test(c)
        ? `control character U+${code}`
        : `white space U+${code}`;
  return `property name ${JSON.stringify(name)} holds ${what}`;
}
