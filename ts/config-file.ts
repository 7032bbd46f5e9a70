/**
 * Reading a config from a JSON file, in Node: shared by the library's
 * Node entry and the CLI, so that both name the file and the field alike.
 */
import { readFileSync } from "node:fs";

import { ConfigError, resolveConfig } from "./config.js";
import type { Config } from "./types.js";

/** Reads and validates a JSON config file; errors name the file and the field. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `${path}: cannot read config: ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    // Editors on some systems start UTF-8 files with an invisible BOM,
    // which JSON.parse would reject as a stray character.
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new ConfigError(
      `${path}: config is not valid JSON: ${(e as Error).message}`,
    );
  }
  try {
    return resolveConfig(json);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}
