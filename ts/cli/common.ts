/**
 * What the `traqq` subcommands share: the usage error that maps to exit
 * code 2, option parsers, reading the config and opening the input.
 */
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { InvalidArgumentError } from "commander";

import { resolveConfig } from "../config.js";
import type { Config } from "../types.js";

/** Reports a usage or config problem: the CLI exits with code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses a whole number of at least `min`, for commander options. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(
        `expected a whole number of at least ${min}`,
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
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  // Some Windows editors start UTF-8 files with a byte order mark, which
  // JSON.parse rejects as an invisible character. (loadConfigFile does
  // not strip it yet; once it does, this can call it again.)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `${path}: config is not valid JSON: ${(e as Error).message}`,
    );
  }
  try {
    return resolveConfig(json);
  } catch (e) {
    const error = e as Error;
    if (error.name === "ConfigError") {
      throw new UsageError(`${path}: ${error.message}`);
    }
    throw error;
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
