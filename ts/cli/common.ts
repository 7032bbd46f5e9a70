/**
 * What the `traqq` subcommands share: the usage error that maps to exit
 * code 2, option parsers, reading the config and opening the input.
 */
import { open } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { InvalidArgumentError } from "commander";

import { ConfigError } from "../config.js";
import { loadConfigFile } from "../config-file.js";
import type { Config } from "../types.js";

/** Reports a usage or config problem: the CLI exits with code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Parses a whole number from `min` to `max`, for commander options:
 * plain digits only, so `1e3`, `0x10` and ` 7` are refused rather than
 * read as something the user may not have meant.
 */
export function wholeNumber(
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number of at least ${min}`
          : `expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** Parses a duration in seconds (a fraction is fine), for commander. */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError("expected seconds, e.g. 30 or 0.5");
  }
  return n;
}

/**
 * Reads and validates a config file; any problem is a usage error whose
 * message names the file (and the field, for a bad value).
 */
export function readConfig(path: string): Config {
  try {
    return loadConfigFile(path);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The input stream of `file`, or stdin for `-`, with its size if known. */
export async function openInput(
  file: string,
): Promise<{ stream: Readable; size?: number }> {
  if (file === "-") return { stream: process.stdin };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch (e) {
    throw new UsageError(`cannot open ${file}: ${(e as Error).message}`);
  }
  const stat = await handle.stat();
  // A directory opens fine and only fails at the first read, as EISDIR.
  if (stat.isDirectory()) {
    await handle.close();
    throw new UsageError(`${file}: is a directory`);
  }
  const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
  // A FIFO or a device has no size worth a percentage.
  return { stream, size: stat.isFile() ? stat.size : undefined };
}

/** Writes `text` and waits for the stream to drain when its buffer is full. */
export function write(stream: Writable, text: string): Promise<void> {
  if (text.length === 0 || stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      stream.off("drain", done);
      stream.off("error", done);
      if (e) reject(e);
      else resolve();
    };
    stream.on("drain", done);
    stream.on("error", done);
  });
}

export { plural } from "../words.js";
