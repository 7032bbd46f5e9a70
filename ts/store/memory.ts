/**
 * The embedded store: Redis semantics in process memory, no server
 * needed. Counters, hashes, sets, sorted sets and HyperLogLogs behave as
 * Redis's do (including `WRONGTYPE` refusals and expiry), unique counts
 * come from the core's Redis-compatible HyperLogLog, and the whole store
 * can be saved to a gzipped NDJSON file and loaded back.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";

import Big from "big.js";

import type { Applied, Op, OpFailure, PlannedBatch, Store } from "./types.js";

/** The core's HyperLogLog, as the wasm module exports it. */
export interface Hll {
  hllAdd(registers: Uint8Array, elements: string): number;
  hllCount(registers: Uint8Array): number;
  hllMerge(into: Uint8Array, from: Uint8Array): void;
  hllRegisters(): number;
}

type Value =
  | { type: "string"; v: string }
  | { type: "hash"; v: Map<string, string> }
  | { type: "set"; v: Set<string> }
  | { type: "zset"; v: Map<string, number> }
  | { type: "hll"; v: Uint8Array };

/** What each value type holds. */
interface Types {
  string: string;
  hash: Map<string, string>;
  set: Set<string>;
  zset: Map<string, number>;
  hll: Uint8Array;
}

/** A refusal with Redis's own wording. */
class Refused extends Error {}

const WRONGTYPE =
  "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER = "ERR value is not an integer or out of range";
const NOT_FLOAT = "ERR value is not a valid float";
const INTEGER = /^-?(0|[1-9][0-9]{0,18})$/;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Where the store is saved on close (gzipped NDJSON); none keeps it in memory only. */
  file?: string;
  /** Seconds since the epoch, for expiry; default the system clock. */
  now?: () => number;
}

/** The embedded in-memory store (the default). */
export class MemoryStore implements Store {
  readonly kind = "memory";
  readonly tagged = false;
  private data = new Map<string, Value>();
  private expiry = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly hll: Hll,
    private readonly options: MemoryStoreOptions = {},
  ) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Opens a store, loading its file when it exists. */
  static async open(
    hll: Hll,
    options: MemoryStoreOptions = {},
  ): Promise<MemoryStore> {
    const store = new MemoryStore(hll, options);
    if (options.file && existsSync(options.file))
      await store.load(options.file);
    return store;
  }

  /** How many keys the store holds (expired ones included until touched). */
  get size(): number {
    return this.data.size;
  }

  async apply(batch: PlannedBatch): Promise<Applied> {
    const failures: OpFailure[] = [];
    for (const group of batch.groups) {
      group.ops.forEach((op, i) => {
        try {
          this.run(op);
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
          failures.push({ op, error: e.message, lines: group.lines[i]! });
        }
      });
    }
    // The file is written only when a run completes, so no batch of it
    // can have landed before.
    return { failures, replayed: 0 };
  }

  async close(): Promise<void> {
    if (this.options.file) await this.save(this.options.file);
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    return keys.map((k) => {
      const v = this.get(k);
      return v?.type === "string" ? v.v : null;
    });
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.typed(key, "hash")?.v ?? []);
  }

  async smembers(key: string): Promise<string[]> {
    return [...(this.typed(key, "set")?.v ?? [])];
  }

  async zscores(key: string): Promise<[string, number][]> {
    return [...(this.typed(key, "zset")?.v ?? [])];
  }

  async pfcount(keys: string[]): Promise<number> {
    const union = new Uint8Array(this.hll.hllRegisters());
    for (const k of keys) {
      const v = this.typed(k, "hll");
      if (v) this.hll.hllMerge(union, v.v);
    }
    return this.hll.hllCount(union);
  }

  private run(op: Op): void {
    switch (op.kind) {
      case "incrby": {
        const cur = this.typed(op.key, "string");
        const before = cur ? parseInteger(cur.v) : 0n;
        this.set(op.key, { type: "string", v: String(before + BigInt(op.by)) });
        return;
      }
      case "incrbyfloat": {
        const cur = this.typed(op.key, "string");
        this.set(op.key, { type: "string", v: addFloat(cur?.v ?? "0", op.by) });
        return;
      }
      case "hincrby": {
        const h = this.container(
          op.key,
          "hash",
          () => new Map<string, string>(),
        );
        const old = h.get(op.field);
        const before = old === undefined ? 0n : parseInteger(old);
        h.set(
          old === undefined ? own(op.field) : op.field,
          String(before + BigInt(op.by)),
        );
        return;
      }
      case "hincrbyfloat": {
        const h = this.container(
          op.key,
          "hash",
          () => new Map<string, string>(),
        );
        const old = h.get(op.field);
        h.set(
          old === undefined ? own(op.field) : op.field,
          addFloat(old ?? "0", op.by),
        );
        return;
      }
      case "pfadd": {
        const regs = this.container(
          op.key,
          "hll",
          () => new Uint8Array(this.hll.hllRegisters()),
        );
        this.hll.hllAdd(regs, op.elements.join("\x1f"));
        return;
      }
      case "zincrby": {
        const z = this.container(
          op.key,
          "zset",
          () => new Map<string, number>(),
        );
        const old = z.get(op.member);
        z.set(
          old === undefined ? own(op.member) : op.member,
          (old ?? 0) + op.by,
        );
        return;
      }
      case "sadd": {
        const s = this.container(op.key, "set", () => new Set<string>());
        for (const m of op.members) if (!s.has(m)) s.add(own(m));
        return;
      }
      case "set":
        this.typed(op.key, "string");
        this.set(op.key, { type: "string", v: op.value });
        return;
      case "expireat":
        if (this.get(op.key)) {
          if (op.at <= this.now()) this.delete(op.key);
          else this.expiry.set(op.key, op.at);
        }
        return;
    }
  }

  /** The live value of a key, dropping it if it expired. */
  private get(key: string): Value | undefined {
    const at = this.expiry.get(key);
    if (at !== undefined && at <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return this.data.get(key);
  }

  private typed<T extends Value["type"]>(
    key: string,
    type: T,
  ): Extract<Value, { type: T }> | undefined {
    const v = this.get(key);
    if (v && v.type !== type) throw new Refused(WRONGTYPE);
    return v as Extract<Value, { type: T }> | undefined;
  }

  private container<T extends keyof Types>(
    key: string,
    type: T,
    make: () => Types[T],
  ): Types[T] {
    const v = this.typed(key, type);
    if (v) return v.v as Types[T];
    const fresh = make();
    this.data.set(own(key), { type, v: fresh } as Value);
    return fresh;
  }

  private set(key: string, value: Value): void {
    if (this.data.has(key)) this.data.set(key, value);
    else this.data.set(own(key), value);
  }

  private delete(key: string): void {
    this.data.delete(key);
    this.expiry.delete(key);
  }

  /** Writes every live key to `file`, replacing it only once complete. */
  async save(file: string): Promise<void> {
    // Renaming over a device such as /dev/null would replace it.
    if (existsSync(file) && !statSync(file).isFile()) {
      throw new Error(
        `memory store ${file}: not a regular file; give --store a file path`,
      );
    }
    const tmp = `${file}.${process.pid}.tmp`;
    const store = this;
    // gzip is slow when fed one short line at a time: hand it ~64 KB.
    function* chunks(): Generator<string> {
      let chunk = "";
      for (const [key, value] of store.data) {
        if (!store.get(key)) continue;
        const at = store.expiry.get(key) ?? null;
        chunk += JSON.stringify([key, value.type, encode(value), at]) + "\n";
        if (chunk.length >= 65536) {
          yield chunk;
          chunk = "";
        }
      }
      if (chunk !== "") yield chunk;
    }
    try {
      await pipeline(
        Readable.from(chunks()),
        createGzip({ level: 1 }),
        createWriteStream(tmp),
      );
    } catch (e) {
      // A half-written copy is of no use to anyone.
      rmSync(tmp, { force: true });
      throw e;
    }
    renameSync(tmp, file);
  }

  private async load(file: string): Promise<void> {
    const input = createGunzip();
    const source = createReadStream(file);
    source.on("error", (e) => input.destroy(e));
    source.pipe(input);
    const rl = createInterface({ input, crlfDelay: Infinity });
    let n = 0;
    try {
      await this.readLines(rl, file, () => ++n);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.startsWith("memory store ")) throw e;
      throw new Error(
        `memory store ${file}: cannot be read (${msg}); is it a traqq store file?`,
      );
    }
  }

  private async readLines(
    rl: AsyncIterable<string>,
    file: string,
    next: () => number,
  ): Promise<void> {
    for await (const line of rl) {
      const n = next();
      if (line === "") continue;
      try {
        const [key, type, raw, at] = JSON.parse(line) as [
          string,
          Value["type"],
          unknown,
          number | null,
        ];
        this.data.set(key, decode(type, raw));
        if (at !== null) this.expiry.set(key, at);
      } catch (e) {
        throw new Error(
          `memory store ${file}: line ${n} is damaged: ${(e as Error).message}`,
        );
      }
    }
  }
}

/**
 * A copy of `s` that holds no reference to a larger string. Keys and
 * values are cut from a whole batch's engine output, and V8 keeps that
 * output alive for as long as any slice of it lives.
 */
function own(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

function parseInteger(s: string): bigint {
  if (!INTEGER.test(s)) throw new Refused(NOT_INTEGER);
  return BigInt(s);
}

/** A float increment, summed exactly in decimal (Redis uses long double). */
function addFloat(current: string, by: string): string {
  let a: Big;
  try {
    a = new Big(current);
  } catch {
    throw new Refused(NOT_FLOAT);
  }
  return a.plus(new Big(by)).toString();
}

function encode(value: Value): unknown {
  switch (value.type) {
    case "string":
      return value.v;
    case "hash":
    case "zset":
      return [...value.v];
    case "set":
      return [...value.v];
    case "hll":
      return Buffer.from(value.v).toString("base64");
  }
}

function decode(type: Value["type"], raw: unknown): Value {
  switch (type) {
    case "string":
      return { type, v: raw as string };
    case "hash":
      return { type, v: new Map(raw as [string, string][]) };
    case "zset":
      return { type, v: new Map(raw as [string, number][]) };
    case "set":
      return { type, v: new Set(raw as string[]) };
    case "hll":
      return { type, v: new Uint8Array(Buffer.from(raw as string, "base64")) };
    default:
      throw new Error(`unknown value type ${JSON.stringify(type)}`);
  }
}
