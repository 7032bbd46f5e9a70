/**
 * Turns the engines' commands into a store's writes for one batch:
 * equal increments are merged (a thousand `INCR`s become one
 * `INCRBY … 1000`, `PFADD`s of one key become one), the layout is
 * applied, index sets and expiries are added, and every write remembers
 * the input lines it came from so a refused write can be reported.
 */
import Big from "big.js";

import type { Command } from "../types.js";
import {
  indexKeyOf,
  keyOf,
  parseEngineKey,
  tagOf,
  type BucketKind,
  type KeyStyle,
  type Place,
} from "./keys.js";
import type { Op, OpGroup, PlannedBatch } from "./types.js";

/** Seconds to keep each bucket kind, counted from the bucket's start. */
export type Retention = Partial<Record<BucketKind, number>>;

interface Entry {
  op: Op;
  tag: string;
  lines: number[];
  /** Exact running sum of float increments. */
  sum?: Big;
  /** Members or elements, deduplicated. */
  set?: Set<string>;
}

/** Collects one batch's commands; {@link finish} hands the batch over. */
export class BatchPlanner {
  private entries = new Map<string, Entry>();
  private commands = 0;

  constructor(
    private readonly style: KeyStyle,
    private readonly retention: Retention = {},
  ) {}

  /** Engine commands merged so far in this batch. */
  get commandCount(): number {
    return this.commands;
  }

  /** Writes planned so far (what Redis will be sent, markers aside). */
  get opCount(): number {
    return this.entries.size;
  }

  /** Adds one accepted event's commands; `line` is its 1-based input line. */
  addEvent(commands: Command[], line: number): void {
    for (const cmd of commands) {
      this.commands++;
      this.addCommand(cmd, line);
    }
  }

  /** The planned batch; the planner starts empty again. */
  finish(id: string): PlannedBatch {
    const byTag = new Map<string, OpGroup>();
    for (const e of this.entries.values()) {
      if (e.sum) {
        const by = e.sum.toString();
        if (e.op.kind === "incrbyfloat" || e.op.kind === "hincrbyfloat") e.op.by = by;
      }
      if (e.set && (e.op.kind === "pfadd" || e.op.kind === "sadd")) {
        const list = [...e.set];
        if (e.op.kind === "pfadd") e.op.elements = list;
        else e.op.members = list;
      }
      let group = byTag.get(e.tag);
      if (!group) byTag.set(e.tag, (group = { tag: e.tag, ops: [], lines: [] }));
      group.ops.push(e.op);
      group.lines.push(e.lines);
    }
    this.entries = new Map();
    this.commands = 0;
    return { id, groups: [...byTag.values()] };
  }

  private addCommand(cmd: Command, line: number): void {
    const [name, key] = cmd as [string, string];
    const { place, value } = parseEngineKey(this.style.prefix, key);
    const style = this.style;
    const hashed = style.layout === "hash";
    switch (name) {
      case "INCR": {
        const k = keyOf(style, place, value);
        if (hashed) {
          this.count(`h\0${k}\0${value}`, place, line, () => ({
            kind: "hincrby", key: k, field: value!, by: 0,
          }));
        } else {
          this.count(`i\0${k}`, place, line, () => ({ kind: "incrby", key: k, by: 0 }));
          this.member(indexKeyOf(style, place), place, value!, line);
        }
        break;
      }
      case "INCRBYFLOAT": {
        const k = keyOf(style, place, value);
        const amount = new Big(cmd[2]!);
        const e = hashed
          ? this.entry(`hf\0${k}\0${value}`, place, line, () => ({
              kind: "hincrbyfloat", key: k, field: value!, by: "0",
            }))
          : this.entry(`f\0${k}`, place, line, () => ({
              kind: "incrbyfloat", key: k, by: "0",
            }));
        e.sum = e.sum ? e.sum.plus(amount) : amount;
        if (!hashed) this.member(indexKeyOf(style, place), place, value!, line);
        break;
      }
      case "PFADD": {
        const k = keyOf(style, place);
        const e = this.entry(`p\0${k}`, place, line, () => ({
          kind: "pfadd", key: k, elements: [],
        }));
        (e.set ??= new Set()).add(cmd[2]!);
        break;
      }
      case "ZINCRBY": {
        const k = keyOf(style, place);
        const member = cmd[3]!;
        this.count(`z\0${k}\0${member}`, place, line, () => ({
          kind: "zincrby", key: k, member, by: 0,
        }));
        break;
      }
      default:
        throw new Error(`planner: unknown engine command ${name}`);
    }
  }

  /** Adds one to an integer increment. */
  private count(id: string, place: Place, line: number, make: () => Op): void {
    const e = this.entry(id, place, line, make);
    if ("by" in e.op && typeof e.op.by === "number") e.op.by++;
  }

  private member(key: string, place: Place, value: string, line: number): void {
    const e = this.entry(`s\0${key}`, place, line, () => ({
      kind: "sadd", key, members: [],
    }));
    (e.set ??= new Set()).add(value);
  }

  private entry(id: string, place: Place, line: number, make: () => Op): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { op: make(), tag: tagOf(this.style, place), lines: [] };
      this.entries.set(id, e);
      this.expire(e.op.key, place);
    }
    if (e.lines[e.lines.length - 1] !== line) e.lines.push(line);
    return e;
  }

  /** One expiry per key and batch, when the bucket kind has a retention. */
  private expire(key: string, place: Place): void {
    const keep = this.retention[place.bucket];
    if (keep === undefined) return;
    const id = `x\0${key}`;
    if (this.entries.has(id)) return;
    this.entries.set(id, {
      op: { kind: "expireat", key, at: place.ts + keep },
      tag: tagOf(this.style, place),
      lines: [],
    });
  }
}
