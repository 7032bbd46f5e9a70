/**
 * Which store a command talks to, from its options: the embedded memory
 * store kept in a file (the default), one Redis server, or a Cluster.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, resolve, sep } from "node:path";

import { openMemoryStore, RedisStore, StoreUnavailableError } from "../node.js";
import { checkRedisUrl as checkUrl } from "../store/redis.js";
import type { Layout, Store } from "../store/types.js";
import { UsageError } from "./common.js";

/** Where the memory store lives unless `--store` says otherwise. */
export const DEFAULT_STORE_FILE = ".traqq/store.jsonl.gz";

/** The store options the `ingest` and `query` commands share. */
export interface StoreFlags {
  store?: string;
  redis?: string;
  cluster?: string;
  layout?: Layout;
}

/** The store a command resolved to, before it is opened. */
export type StoreChoice =
  | { kind: "memory"; file: string }
  | { kind: "redis"; url: string }
  | { kind: "cluster"; hosts: string[] };

/**
 * Picks the store: an explicit `--store`, `--redis` or `--cluster`
 * first, then `REDIS_URL` from the environment, then the memory store
 * in {@link DEFAULT_STORE_FILE}. A memory store's path is checked here,
 * before anything is read or locked (see {@link checkStorePath}).
 */
export function chooseStore(
  flags: StoreFlags,
  env: NodeJS.ProcessEnv = process.env,
): StoreChoice {
  const given = (["store", "redis", "cluster"] as const).filter(
    (k) => flags[k] !== undefined,
  );
  if (given.length > 1) {
    throw new UsageError(
      `--${given[0]} and --${given[1]} name two stores; give one`,
    );
  }
  if (flags.cluster !== undefined) {
    const hosts = flags.cluster
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h !== "");
    for (const h of hosts) {
      if (!/^[^\s:]+:\d{1,5}$/.test(h) && !/^\[[^\]]+\]:\d{1,5}$/.test(h)) {
        throw new UsageError(
          `--cluster: ${JSON.stringify(h)} is not HOST:PORT`,
        );
      }
    }
    if (hosts.length === 0) {
      throw new UsageError("--cluster: expected HOST:PORT,...");
    }
    return { kind: "cluster", hosts };
  }
  const url =
    flags.redis ??
    (flags.store === undefined && env.REDIS_URL ? env.REDIS_URL : undefined);
  if (url !== undefined) {
    checkRedisUrl(url, flags.redis !== undefined ? "--redis" : "REDIS_URL");
    return { kind: "redis", url };
  }
  const file = flags.store ?? DEFAULT_STORE_FILE;
  checkStorePath(file, flags.store !== undefined ? "--store" : "the store");
  return { kind: "memory", file };
}

/**
 * Fails with a usage error naming `source` unless `file` can be a memory
 * store's file: a non-empty path that is a regular file or nothing yet,
 * under a folder that exists or can be made (no file on the way).
 *
 * @example
 * checkStorePath("data", "--store"); // --store data: is a directory; ...
 */
export function checkStorePath(file: string, source: string): void {
  const fail = (why: string): never => {
    throw new UsageError(`${source} ${file}: ${why}`);
  };
  if (file === "") {
    throw new UsageError(`${source} "": expected a file path`);
  }
  if (file.endsWith("/") || file.endsWith(sep)) {
    fail("ends with a path separator; expected a file path");
  }
  const stat = statOrNull(file, fail);
  if (stat?.isDirectory()) {
    fail(
      `is a directory; expected a file path, such as ${file}/store.jsonl.gz`,
    );
  }
  // Renaming the saved store over a device or a FIFO would replace it.
  if (stat && !stat.isFile()) fail("is not a regular file");
  // The nearest folder that exists must be a folder; below it, mkdir
  // makes the rest.
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const up = statOrNull(dir, fail);
    if (up?.isDirectory()) return;
    if (up) fail(`${dir} is not a directory, so it cannot hold the file`);
    if (dirname(dir) === dir) return;
  }
}

/** `stat` of `path`, or null when nothing is there. */
function statOrNull(
  path: string,
  fail: (why: string) => never,
): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    // ENOTDIR: a file is on the way, which the walk up then names.
    if (code === "ENOTDIR") return null;
    return fail(`cannot be checked: ${(e as Error).message}`);
  }
}

function checkRedisUrl(url: string, source: string): void {
  try {
    checkUrl(url);
  } catch (e) {
    throw new UsageError(`${source}: ${(e as Error).message}`);
  }
}

/** The store for messages: kind and place, never a password. */
export function describeStore(choice: StoreChoice): string {
  switch (choice.kind) {
    case "memory":
      return `memory store ${choice.file}`;
    case "redis": {
      const u = new URL(choice.url);
      if (u.password) u.password = "***";
      return `redis ${u.toString()}`;
    }
    case "cluster":
      return `cluster ${choice.hosts.join(",")}`;
  }
}

/** A store opened for a command, and how to let go of it. */
export interface OpenedStore {
  store: Store;
  /**
   * Saves what must survive (the memory store's file, only when `save`)
   * and closes connections and locks.
   */
  release(save: boolean): Promise<void>;
}

/**
 * Opens the store to write into. The memory store's folder is created,
 * the file loaded when it exists and locked so that two ingests never
 * overwrite each other's work.
 */
export async function openForWriting(
  choice: StoreChoice,
  options: {
    prefix: string;
    layout: Layout;
    retryForMs?: number;
    /** How long one read may wait for Redis; default 15 s. */
    readDeadlineMs?: number;
  },
): Promise<OpenedStore> {
  if (choice.kind !== "memory") {
    return openRedis(
      choice,
      options.prefix,
      options.layout,
      options.retryForMs,
      options.readDeadlineMs,
    );
  }
  const dir = dirname(choice.file);
  try {
    makeFolder(dir);
  } catch (e) {
    throw new UsageError(
      `${choice.file}: cannot create its folder ${dir}: ${(e as Error).message}`,
    );
  }
  const unlock = lock(choice.file);
  try {
    const store = await openMemoryStore({ file: choice.file });
    return {
      store,
      async release(save) {
        try {
          if (save) await store.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}

/**
 * Opens the store to read from. A memory store file must exist; it is
 * never written back, so a query can run beside an ingest.
 */
export async function openForReading(
  choice: StoreChoice,
  options: { prefix: string; layout: Layout },
): Promise<OpenedStore> {
  if (choice.kind !== "memory") {
    return openRedis(choice, options.prefix, options.layout, 10_000);
  }
  // A running ingest or serve writes the file only when it stops.
  const writer = holder(choice.file);
  const busy =
    writer === undefined
      ? ""
      : `a running traqq command (pid ${writer}) holds it and writes it ` +
        `when it stops`;
  if (!existsSync(choice.file)) {
    throw new UsageError(
      busy
        ? `no memory store at ${choice.file} yet: ${busy}; query that ` +
            `server's GET /query instead, or wait`
        : `no memory store at ${choice.file}; run traqq ingest first, or ` +
            `name another with --store, --redis or --cluster`,
    );
  }
  if (busy) {
    process.stderr.write(
      `traqq: warning: ${choice.file}: ${busy}; this answer leaves out what it took in since it started\n`,
    );
  }
  const store = await openMemoryStore({ file: choice.file });
  // close() would save the file again: a reader only lets go of it.
  return { store, release: async () => {} };
}

/** How long a read may wait for Redis before the command gives up. */
const READ_DEADLINE_MS = 15_000;

async function openRedis(
  choice: Exclude<StoreChoice, { kind: "memory" }>,
  prefix: string,
  layout: Layout,
  retryForMs = 30_000,
  readDeadlineMs = READ_DEADLINE_MS,
): Promise<OpenedStore> {
  const style = { prefix, layout };
  const store =
    choice.kind === "redis"
      ? new RedisStore({ url: choice.url, style, retryForMs })
      : new RedisStore({ cluster: choice.hosts, style, retryForMs });
  // The store's own retry window ends a batch against a dead server, but
  // a Cluster that never connected queues commands without end; past
  // the window (and some slack for a slow batch) the run stops instead.
  const guarded = withDeadlines(
    store,
    retryForMs + 30_000,
    readDeadlineMs,
    describeStore(choice),
  );
  return {
    store: guarded,
    async release() {
      // quit() waits for a reply that a dead server never sends.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        store.close(),
        new Promise((r) => (timer = setTimeout(r, 1000))),
      ]);
      clearTimeout(timer);
      store.client.disconnect();
    },
  };
}

/**
 * Takes `<file>.lock` for this process, or fails naming the process that
 * holds it. A lock left by a process that died is taken over.
 */
function lock(file: string): () => void {
  const path = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) {
        throw new UsageError(`cannot lock ${path}: ${(e as Error).message}`);
      }
    }
    const pid = holder(file);
    if (pid !== undefined) {
      throw new UsageError(
        `${file} is in use by another traqq command (pid ${pid}); if no such ` +
          `process runs, remove ${path}`,
      );
    }
    rmSync(path, { force: true });
  }
}

/**
 * Creates `dir` and its missing parents one level at a time. Node's
 * recursive mkdir loops for ever where a parent cannot be made and
 * reports ENOENT for it (under /proc), so the levels are walked here.
 */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    if (dirname(d) === d) break;
    missing.push(d);
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/** The live process that holds `<file>.lock`, if one does. */
function holder(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`${file}.lock`, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `store`, with every call failing once it waited longer than allowed. */
function withDeadlines(
  store: Store,
  applyMs: number,
  readMs: number,
  where: string,
): Store {
  const within = <T>(ms: number, work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(
              `no answer from ${where} within ${Math.round(ms / 1000)} s`,
            ),
          ),
        ms,
      );
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  };
  return {
    kind: store.kind,
    tagged: store.tagged,
    apply: (batch) => within(applyMs, store.apply(batch)),
    close: () => store.close(),
    mget: (keys) => within(readMs, store.mget(keys)),
    hgetall: (key) => within(readMs, store.hgetall(key)),
    smembers: (key) => within(readMs, store.smembers(key)),
    zscores: (key) => within(readMs, store.zscores(key)),
    pfcount: (keys) => within(readMs, store.pfcount(keys)),
  };
}
