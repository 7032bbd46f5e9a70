/**
 * One Redis server or a Redis Cluster, through ioredis.
 *
 * Exactly once: each group of a batch goes out as one `MULTI … EXEC`
 * that also sets a marker key named after the batch, and a group whose
 * marker exists is not sent again. When the connection drops before the
 * reply, nobody knows whether the transaction ran; after reconnecting,
 * the marker says. A resumed run with the same run id skips the groups
 * that landed the first time the same way. ioredis must not resend on its own, so
 * `autoResendUnfulfilledCommands` is off. (With a server that keeps
 * nothing on disk, a restart loses everything anyway: exactly-once
 * across restarts needs `appendonly yes` with `appendfsync always`.)
 */
import { Cluster, Redis, ReplyError, type ChainableCommander } from "ioredis";

import { markerKey, type KeyStyle } from "./keys.js";
import type { Op, OpFailure, OpGroup, PlannedBatch, Store } from "./types.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** A `redis://` URL of one server. */
  url?: string;
  /** Cluster nodes, `host:port` each; any one of them is enough to start. */
  cluster?: string[];
  /** A client of the user's own; the store does not close it. */
  client?: Redis | Cluster;
  /** How long to keep retrying a batch while Redis is unreachable. Default 30 s. */
  retryForMs?: number;
  /** How long batch markers are kept, in seconds. Default 7 days. */
  markerTtl?: number;
  /** Prefix and layout; the Cluster flag comes from the store. */
  style: Omit<KeyStyle, "tagged">;
}

/** Redis gave up on a batch: it stayed unreachable for the retry window. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store on one Redis server or a Redis Cluster. */
export class RedisStore implements Store {
  readonly kind: "redis" | "cluster";
  readonly tagged: boolean;
  readonly client: Redis | Cluster;
  private readonly owned: boolean;
  private readonly retryForMs: number;
  private readonly markerTtl: number;
  private readonly style: KeyStyle;
  /** What the socket last said, which tells more than a retry counter. */
  private lastConnectionError: string | undefined;

  constructor(options: RedisStoreOptions) {
    const shared = {
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
    };
    if (options.client) {
      this.client = options.client;
      this.owned = false;
    } else if (options.cluster) {
      const nodes = options.cluster.map((hp) => {
        const [host, port] = splitHostPort(hp);
        return { host, port };
      });
      this.client = new Cluster(nodes, {
        redisOptions: shared,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
      });
      this.owned = true;
    } else {
      this.client = new Redis(options.url ?? "redis://127.0.0.1:6379", shared);
      this.owned = true;
    }
    // Connection errors surface through the commands that hit them; the
    // event would only repeat them on stderr.
    this.client.on("error", (e: Error) => {
      this.lastConnectionError = e.message;
    });
    this.kind = this.client instanceof Cluster ? "cluster" : "redis";
    this.tagged = this.kind === "cluster";
    this.style = { ...options.style, tagged: this.tagged };
    this.retryForMs = options.retryForMs ?? 30_000;
    this.markerTtl = options.markerTtl ?? 7 * 86400;
  }

  async apply(batch: PlannedBatch): Promise<OpFailure[]> {
    const results = await Promise.all(
      batch.groups.map((g) => this.applyGroup(batch.id, g)),
    );
    return results.flat();
  }

  private async applyGroup(
    batchId: string,
    group: OpGroup,
  ): Promise<OpFailure[]> {
    const marker = markerKey(this.style, batchId, group.tag);
    const deadline = Date.now() + this.retryForMs;
    let lastError: unknown;
    for (;;) {
      try {
        // ioredis may hold a command in its offline queue indefinitely
        // (a Cluster with no node reachable), so each attempt has a deadline.
        const left = Math.max(deadline - Date.now(), 1000);
        // Landed already: before a dropped connection, or in the run that
        // this one resumes.
        if (await within(this.client.exists(marker), left)) return [];
        const multi = this.client.multi();
        for (const op of group.ops) queue(multi, op);
        multi.set(marker, "1", "EX", this.markerTtl);
        const replies = await within(multi.exec(), left);
        if (!replies) throw new Error("transaction discarded");
        return failures(group, replies);
      } catch (e) {
        if (e instanceof ReplyError) throw e;
        lastError = e;
        if (Date.now() >= deadline) {
          const why =
            this.lastConnectionError ??
            (lastError as Error)?.message ??
            String(lastError);
          throw new StoreUnavailableError(
            `${this.kind} unreachable for ${Math.round(this.retryForMs / 1000)} s: ${why}`,
          );
        }
        await sleep(100);
      }
    }
  }

  async close(): Promise<void> {
    if (this.owned)
      await this.client.quit().catch(() => this.client.disconnect());
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    return keys.length === 0 ? [] : this.client.mget(keys);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.client.hgetall(key);
  }

  async smembers(key: string): Promise<string[]> {
    return this.client.smembers(key);
  }

  async zscores(key: string): Promise<[string, number][]> {
    const flat = await this.client.zrange(key, 0, -1, "WITHSCORES");
    const out: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push([flat[i]!, Number(flat[i + 1])]);
    return out;
  }

  async pfcount(keys: string[]): Promise<number> {
    return keys.length === 0 ? 0 : this.client.pfcount(keys);
  }
}

/** `promise`, or a rejection once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms} ms`)),
      ms,
    );
  });
  promise.catch(() => {});
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function queue(m: ChainableCommander, op: Op): void {
  switch (op.kind) {
    case "incrby":
      m.incrby(op.key, op.by);
      return;
    case "incrbyfloat":
      m.incrbyfloat(op.key, op.by);
      return;
    case "hincrby":
      m.hincrby(op.key, op.field, op.by);
      return;
    case "hincrbyfloat":
      m.hincrbyfloat(op.key, op.field, op.by);
      return;
    case "pfadd":
      m.pfadd(op.key, ...op.elements);
      return;
    case "zincrby":
      m.zincrby(op.key, op.by, op.member);
      return;
    case "sadd":
      m.sadd(op.key, ...op.members);
      return;
    case "expireat":
      m.expireat(op.key, op.at);
      return;
    case "set":
      m.set(op.key, op.value);
      return;
  }
}

/** Each `[err, value]` reply checked: the refused ops, with their lines. */
function failures(
  group: OpGroup,
  replies: [Error | null, unknown][],
): OpFailure[] {
  const out: OpFailure[] = [];
  group.ops.forEach((op, i) => {
    const err = replies[i]?.[0];
    if (err) out.push({ op, error: err.message, lines: group.lines[i]! });
  });
  const markerErr = replies[group.ops.length]?.[0];
  if (markerErr) throw markerErr;
  return out;
}

function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(":");
  const port = Number(hp.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) {
    throw new Error(`cluster node ${JSON.stringify(hp)}: expected HOST:PORT`);
  }
  return [hp.slice(0, i), port];
}
