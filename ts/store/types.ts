/**
 * What a store is: something that applies planned batches of writes
 * exactly once and answers the few reads queries need. The embedded
 * memory store, one Redis server and a Redis Cluster all implement it,
 * and a query must give the same answer from each.
 */

/** How counters are laid out in keys; see the spec's section 5. */
export type Layout = "flat" | "hash";

/** One write, already merged within its batch. */
export type Op =
  | { kind: "incrby"; key: string; by: number }
  | { kind: "incrbyfloat"; key: string; by: string }
  | { kind: "hincrby"; key: string; field: string; by: number }
  | { kind: "hincrbyfloat"; key: string; field: string; by: string }
  | { kind: "pfadd"; key: string; elements: string[] }
  | { kind: "zincrby"; key: string; member: string; by: number }
  | { kind: "sadd"; key: string; members: string[] }
  | { kind: "expireat"; key: string; at: number }
  | { kind: "set"; key: string; value: string };

/** Ops that must land together: one per hash tag on a Cluster. */
export interface OpGroup {
  /** The Cluster hash tag every key of the group carries, or "" elsewhere. */
  tag: string;
  ops: Op[];
  /** For each op, the input lines (1-based) whose commands it merges. */
  lines: number[][];
}

/** A batch ready for a store: applied exactly once, or not at all. */
export interface PlannedBatch {
  /** Unique across runs; the store remembers it to never apply it twice. */
  id: string;
  groups: OpGroup[];
}

/** A command Redis refused (say `WRONGTYPE`), with the lines it came from. */
export interface OpFailure {
  op: Op;
  error: string;
  lines: number[];
}

/** The reads that queries are built from; keys come from `keys.ts`. */
export interface StoreReader {
  /** Values of string keys; `null` where a key is missing. */
  mget(keys: string[]): Promise<(string | null)[]>;
  /** All fields of a hash. */
  hgetall(key: string): Promise<Record<string, string>>;
  /** All members of a set. */
  smembers(key: string): Promise<string[]>;
  /** All members of a sorted set with their scores. */
  zscores(key: string): Promise<[string, number][]>;
  /** The unique count of the union of HyperLogLogs (keys share a slot). */
  pfcount(keys: string[]): Promise<number>;
}

/** What {@link Store.apply} did with a batch. */
export interface Applied {
  /** The ops the store refused, with the lines they came from. */
  failures: OpFailure[];
  /**
   * Groups found applied already, by an earlier attempt or by the run
   * this one repeats; their ops were not sent again.
   */
  replayed: number;
}

/** A place to keep counters. */
export interface Store extends StoreReader {
  /** What kind of store this is, for messages. */
  readonly kind: "memory" | "redis" | "cluster";
  /** Whether keys carry Cluster hash tags. */
  readonly tagged: boolean;
  /**
   * Applies a batch exactly once. Resolves with the ops Redis refused;
   * rejects only when the store stayed unreachable (nothing is lost:
   * the batch either landed whole or not at all).
   */
  apply(batch: PlannedBatch): Promise<Applied>;
  /** Flushes what must survive the process and lets go of connections. */
  close(): Promise<void>;
}

/**
 * The server refused the connection's setup (a database number it does
 * not have, a wrong password): retrying cannot help, and nothing was
 * written.
 */
export class StoreSetupError extends Error {
  override name = "StoreSetupError";
}
