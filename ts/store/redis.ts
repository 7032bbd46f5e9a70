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
import {
  StoreSetupError,
  type Applied,
  type Op,
  type OpFailure,
  type OpGroup,
  type PlannedBatch,
  type Store,
} from "./types.js";

export { StoreSetupError };

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

/** Replies that refuse a connection's SELECT or AUTH, as Redis words them. */
const SETUP_REFUSALS =
  /DB index is out of range|^WRONGPASS|^NOAUTH|invalid password|invalid username/;

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
  /** Set when the server refused the connection's setup; nothing is sent after. */
  private setupError: StoreSetupError | undefined;

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
      const url = options.url ?? "redis://127.0.0.1:6379";
      checkRedisUrl(url);
      this.client = new Redis(url, shared);
      this.owned = true;
    }
    // Connection errors surface through the commands that hit them; the
    // event would only repeat them on stderr.
    this.client.on("error", (e: Error) => {
      this.lastConnectionError = e.message;
      // ioredis reports a refused SELECT or AUTH this way and then
      // carries on (in database 0, or unauthenticated); the store stops
      // instead of writing to the wrong place or retrying in vain.
      if (
        e instanceof ReplyError &&
        SETUP_REFUSALS.test(e.message) &&
        this.setupError === undefined
      ) {
        this.setupError = new StoreSetupError(
          `${this.kind === "cluster" ? "cluster" : "redis"}: the server refused the connection's setup: ${e.message}`,
        );
        this.client.disconnect();
      }
    });
    this.kind = this.client instanceof Cluster ? "cluster" : "redis";
    this.tagged = this.kind === "cluster";
    this.style = { ...options.style, tagged: this.tagged };
    this.retryForMs = options.retryForMs ?? 30_000;
    this.markerTtl = options.markerTtl ?? 7 * 86400;
  }

  async apply(batch: PlannedBatch): Promise<Applied> {
    const results = await Promise.all(
      batch.groups.map((g) => this.applyGroup(batch.id, g)),
    );
    return {
      failures: results.flatMap((r) => r ?? []),
      replayed: results.filter((r) => r === null).length,
    };
  }

  /** The group's refused ops, or null when its marker says it landed. */
  private async applyGroup(
    batchId: string,
    group: OpGroup,
  ): Promise<OpFailure[] | null> {
    const marker = markerKey(this.style, batchId, group.tag);
    return this.retrying(async (left) => {
      // Landed already: before a dropped connection, or in the run that
      // this one resumes.
      const landed = await within(this.client.exists(marker), left);
      if (this.setupError) throw this.setupError;
      if (landed) return null;
      const multi = this.client.multi();
      for (const op of group.ops) queue(multi, op);
      multi.set(marker, "1", "EX", this.markerTtl);
      const replies = await within(multi.exec(), left);
      if (!replies) throw new Error("transaction discarded");
      return failures(group, replies);
    });
  }

  /**
   * Runs `attempt` until it succeeds, retrying lost connections for
   * `retryForMs`; a reply error or a refused setup ends it at once.
   * `attempt` gets the milliseconds it may take: ioredis may hold a
   * command in its offline queue indefinitely (a Cluster with no node
   * reachable), so each attempt has a deadline.
   */
  private async retrying<T>(attempt: (left: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    for (;;) {
      try {
        if (this.setupError) throw this.setupError;
        const answer = await attempt(Math.max(deadline - Date.now(), 1000));
        if (this.setupError) throw this.setupError;
        return answer;
      } catch (e) {
        if (this.setupError) throw this.setupError;
        if (e instanceof ReplyError) throw e;
        if (Date.now() >= deadline) {
          // What the socket said tells more than ioredis's retry counter.
          const why =
            this.lastConnectionError ?? (e as Error)?.message ?? String(e);
          throw new StoreUnavailableError(
            `${this.kind} unreachable for ${formatSeconds(this.retryForMs)}: ${why}`,
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

  /** A read, retried like a write while the connection is lost. */
  private read<T>(command: () => Promise<T>): Promise<T> {
    return this.retrying((left) => within(command(), left));
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    return keys.length === 0 ? [] : this.read(() => this.client.mget(keys));
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.read(() => this.client.hgetall(key));
  }

  async smembers(key: string): Promise<string[]> {
    return this.read(() => this.client.smembers(key));
  }

  async zscores(key: string): Promise<[string, number][]> {
    const flat = await this.read(() =>
      this.client.zrange(key, 0, -1, "WITHSCORES"),
    );
    const out: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push([flat[i]!, Number(flat[i + 1])]);
    return out;
  }

  async pfcount(keys: string[]): Promise<number> {
    return keys.length === 0 ? 0 : this.read(() => this.client.pfcount(keys));
  }
}

/** `1 s`, `0.5 s`: a duration for a message. */
function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
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

/**
 * Throws a TypeError unless `url` is a `redis://` or `rediss://` URL
 * whose path, if any, is a database number: ioredis would read
 * `redis://host/abc` as database 0 without a word.
 */
export function checkRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `${JSON.stringify(url)} is not a URL; expected redis://HOST:PORT[/DB]`,
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
    );
  }
  if (!/^(\/([0-9]{1,9})?)?$/.test(parsed.pathname)) {
    throw new TypeError(
      `${JSON.stringify(url)}: the path must be a database number, such as /0 or /3`,
    );
  }
}

function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(":");
  const port = Number(hp.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) {
    throw new Error(`cluster node ${JSON.stringify(hp)}: expected HOST:PORT`);
  }
  return [hp.slice(0, i), port];
}
