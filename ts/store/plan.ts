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

/** The writes one engine command feeds: its counter, and an index set. */
interface Target {
  main: Entry;
  index?: Entry;
  /** The value the index set lists. */
  value?: string;
}

/** Records that `line` fed the write (once, however many commands). */
function touch(e: Entry, line: number): void {
  if (e.lines[e.lines.length - 1] !== line) e.lines.push(line);
}

/** Collects one batch's commands; {@link finish} hands the batch over. */
export class BatchPlanner {
  private entries = new Map<string, Entry>();
  private targets = new Map<string, Target>();
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

  /** Adds a plain `SET` (the layout record) to this batch. */
  note(key: string, value: string, tag: string): void {
    this.entries.set(`n\0${key}`, {
      op: { kind: "set", key, value },
      tag,
      lines: [],
    });
  }

  /** The planned batch; the planner starts empty again. */
  finish(id: string): PlannedBatch {
    const byTag = new Map<string, OpGroup>();
    const expiries: Entry[] = [];
    const add = (e: Entry) => {
      let group = byTag.get(e.tag);
      if (!group)
        byTag.set(e.tag, (group = { tag: e.tag, ops: [], lines: [] }));
      group.ops.push(e.op);
      group.lines.push(e.lines);
    };
    for (const e of this.entries.values()) {
      if (e.sum) {
        const by = e.sum.toString();
        if (e.op.kind === "incrbyfloat" || e.op.kind === "hincrbyfloat")
          e.op.by = by;
      }
      if (e.set && (e.op.kind === "pfadd" || e.op.kind === "sadd")) {
        const list = [...e.set];
        if (e.op.kind === "pfadd") e.op.elements = list;
        else e.op.members = list;
      }
      // Expiries go after every write: a bucket already past its
      // retention must not be brought back by a later field or member.
      if (e.op.kind === "expireat") expiries.push(e);
      else add(e);
    }
    for (const e of expiries) add(e);
    this.entries = new Map();
    this.targets = new Map();
    this.commands = 0;
    return { id, groups: [...byTag.values()] };
  }

  private addCommand(cmd: Command, line: number): void {
    const name = cmd[0]!;
    // Most commands of a batch repeat an earlier one: find its writes by
    // the engine's own key, without parsing it again.
    const memo =
      name === "ZINCRBY"
        ? `${name}\0${cmd[1]}\0${cmd[3]}`
        : `${name}\0${cmd[1]}`;
    let t = this.targets.get(memo);
    if (!t) {
      t = this.target(name, cmd);
      this.targets.set(memo, t);
    }
    touch(t.main, line);
    switch (name) {
      case "INCR":
      case "ZINCRBY":
        (t.main.op as { by: number }).by++;
        break;
      case "INCRBYFLOAT": {
        const amount = new Big(cmd[2]!);
        t.main.sum = t.main.sum ? t.main.sum.plus(amount) : amount;
        break;
      }
      case "PFADD":
        t.main.set!.add(cmd[2]!);
        break;
    }
    if (t.index) {
      touch(t.index, line);
      t.index.set!.add(t.value!);
    }
  }

  /** The writes one engine command feeds, made on first sight. */
  private target(name: string, cmd: Command): Target {
    const { place, value } = parseEngineKey(this.style.prefix, cmd[1]!);
    const style = this.style;
    const hashed = style.layout === "hash";
    const index = () => {
      const ik = indexKeyOf(style, place);
      return this.entry(
        `s\0${ik}`,
        place,
        (key) => ({ kind: "sadd", key, members: [] }),
        ik,
      );
    };
    switch (name) {
      case "INCR": {
        const k = keyOf(style, place, value);
        if (hashed) {
          const main = this.entry(
            `h\0${k}\0${value}`,
            place,
            () => ({
              kind: "hincrby",
              key: k,
              field: value!,
              by: 0,
            }),
            k,
          );
          return { main };
        }
        const main = this.entry(
          `i\0${k}`,
          place,
          () => ({ kind: "incrby", key: k, by: 0 }),
          k,
        );
        return { main, index: index(), value };
      }
      case "INCRBYFLOAT": {
        const k = keyOf(style, place, value);
        if (hashed) {
          const main = this.entry(
            `hf\0${k}\0${value}`,
            place,
            () => ({
              kind: "hincrbyfloat",
              key: k,
              field: value!,
              by: "0",
            }),
            k,
          );
          return { main };
        }
        const main = this.entry(
          `f\0${k}`,
          place,
          () => ({
            kind: "incrbyfloat",
            key: k,
            by: "0",
          }),
          k,
        );
        return { main, index: index(), value };
      }
      case "PFADD": {
        const k = keyOf(style, place);
        const main = this.entry(
          `p\0${k}`,
          place,
          () => ({ kind: "pfadd", key: k, elements: [] }),
          k,
        );
        main.set ??= new Set();
        return { main };
      }
      case "ZINCRBY": {
        const k = keyOf(style, place);
        const member = cmd[3]!;
        const main = this.entry(
          `z\0${k}\0${member}`,
          place,
          () => ({
            kind: "zincrby",
            key: k,
            member,
            by: 0,
          }),
          k,
        );
        return { main };
      }
      default:
        throw new Error(`planner: unknown engine command ${name}`);
    }
  }

  private entry(
    id: string,
    place: Place,
    make: (key: string) => Op,
    key: string,
  ): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { op: make(key), tag: tagOf(this.style, place), lines: [] };
      if (e.op.kind === "sadd") e.set = new Set();
      this.entries.set(id, e);
      this.expire(e.op.key, place);
    }
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
