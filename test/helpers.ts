/**
 * Shared helpers of the vitest suites: build an engine of either kind and
 * write the raw batch a test expects, straight from the format that
 * `ts/batch.ts` documents (so the tests do not trust its decoder).
 */
import { createEngineSync } from "../ts/node.js";
import type { ConfigInput, EngineName } from "../ts/types.js";

/** Both engines; every table test runs against each. */
export const ENGINES: EngineName[] = ["wasm", "ts"];

/** A command as the tests write it: name, then arguments. */
export type Cmd = string[];

/** Builds an engine of the given kind; the clock is never read here. */
export function makeEngine(engine: EngineName, config: ConfigInput) {
  return createEngineSync({ config, engine, clock: () => 0 });
}

/** Runs NDJSON text through a fresh engine and returns the raw batch. */
export function runRaw(
  engine: EngineName,
  config: ConfigInput,
  ndjson: string,
  nowMs: number,
): string {
  const e = makeEngine(engine, config);
  try {
    return e.processLines(ndjson, nowMs);
  } finally {
    e.free();
  }
}

/** The raw record of an accepted event with these commands. */
export function ok(...commands: Cmd[]): string {
  let out = `+${commands.length}\n`;
  for (const c of commands) out += c.join("\x1f") + "\n";
  return out;
}

/** The raw record of a rejected event. */
export function rejected(reason: string): string {
  return `-${reason}\n`;
}

/** The raw record of a blank line. */
export const BLANK = "\n";

/** Shorthand for the four command shapes of the spec's section 4. */
export const cmd = {
  incr: (key: string): Cmd => ["INCR", key],
  pfadd: (key: string, value: string): Cmd => ["PFADD", key, value],
  adv: (key: string, amount: string): Cmd => ["INCRBYFLOAT", key, amount],
  top: (key: string, value: string): Cmd => ["ZINCRBY", key, "1", value],
};
