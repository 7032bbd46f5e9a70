/**
 * The HTTP API of `traqq serve`, on fastify: `POST /events` records
 * events, `GET /query` answers queries, `GET /health` says the server is
 * up, and `GET /` serves the dashboard (built into `dist/web` by
 * `scripts/build-web.sh`) with the wasm engine for its playground.
 *
 * Events from concurrent requests are recorded together: they collect
 * for up to `flushMs` (or `batchEvents` events), then go to the store as
 * one batch, and each request is answered once its own events landed.
 *
 * Every error, fastify's and Node's own included, is answered as
 * `{"error": "..."}`. A request must arrive whole within
 * `requestTimeoutMs`, and `close()` gives requests in flight `graceMs`
 * before it closes their connections, so no client can hold it up.
 *
 * @example
 * const server = await startServer({ config, store, layout: "flat", engine: "wasm", host: "127.0.0.1", port: 8080 });
 * // curl -d '{"event":"signup"}' -H 'content-type: application/json' localhost:8080/events
 * await server.close();
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { Transform, type Duplex, type Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";

import { BodyError, jsonLines, ndjsonLines, type BodyLines } from "./body.js";
import type { Engine } from "./engine.js";
import { record } from "./ingest.js";
import { EngineError } from "./wasm.js";
import { plural } from "./words.js";
import { createEngineSync } from "./node.js";
import {
  query,
  QueryError,
  type Granularity,
  type QueryOptions,
  type RangeShortcut,
} from "./query.js";
import { layoutKey, type Metric } from "./store/keys.js";
import type { Layout, OpFailure, Store } from "./store/types.js";
import type { Clock, Config, EngineName } from "./types.js";

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** A validated config (see `loadConfigFile`). */
  config: Config;
  /** Where events go; the server closes it on `close()`. */
  store: Store;
  layout: Layout;
  engine: EngineName;
  host: string;
  /** 0 picks any free port; `url` tells which. */
  port: number;
  /** When set, `/events`, `/query` and `/config` need `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** How long events wait for others to share a store batch; default 50 ms. */
  flushMs?: number;
  /** A batch this many events long goes to the store at once; default 4096. */
  batchEvents?: number;
  /** Processing time for events and "today" for queries, in ms; default `Date.now`. */
  clock?: Clock;
  /** Folder of the built dashboard; default `dist/web`. */
  webRoot?: string;
  /** Where problems no response can carry go; default stderr. */
  log?: (message: string) => void;
  /**
   * A request's headers and body must arrive within this many ms, or it
   * is answered 408 and its connection closed; default 30 s, 0 for none.
   */
  requestTimeoutMs?: number;
  /**
   * How long `close()` lets requests in flight finish before it closes
   * their connections; default 5 s.
   */
  graceMs?: number;
  /** How long `GET /health` waits for the store to answer; default 1 s. */
  healthTimeoutMs?: number;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:43117`. */
  url: string;
  /**
   * Stops accepting, lets requests in flight finish for `graceMs`, closes
   * the connections still open, records pending events, then closes the
   * store. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /**
   * Ends the grace period of a `close()` under way: open connections
   * close now. Called before `close()`, that one gives none.
   */
  closeConnections(): void;
  /** Events the store took and requests were told about (`accepted`), so far. */
  readonly acknowledged: number;
  /** Events received and not yet written: their requests wait for an answer. */
  readonly unanswered: number;
}

/** The server could not listen on the host and port it was given. */
export class ListenError extends Error {
  override name = "ListenError";

  constructor(
    readonly host: string,
    readonly port: number,
    /** What went wrong, in words: `unknown host`, `the port is in use`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const where = host.includes(":") ? `[${host}]` : host;
    super(`cannot listen on ${where}:${port}: ${reason}`, options);
  }
}

/** The answer of `POST /events`. */
export interface EventsResponse {
  accepted: number;
  rejected: number;
  /** `index` counts from 0: array elements, or NDJSON lines (blank ones included). */
  rejections: { index: number; error: string }[];
  /** Writes the store refused (say `WRONGTYPE`), with the events they came from. */
  failures: { key: string; error: string; indexes: number[] }[];
}

/** An error with the HTTP status it answers with. */
class HttpError extends Error {
  override name = "HttpError";

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const METRICS: readonly Metric[] = ["add", "adv", "bmp", "top"];
const GRANULARITIES: readonly Granularity[] = ["hour", "day", "total"];
const QUERY_PARAMS = [
  "metric",
  "pattern",
  "addKey",
  "from",
  "to",
  "range",
  "by",
  "top",
  "values",
  "prefix",
] as const;
const NDJSON_TYPES = [
  "application/x-ndjson",
  "application/ndjson",
  "text/plain",
];
const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
};

/**
 * Starts the HTTP API and dashboard. The store passes to the server: it
 * is closed by `close()` (not when starting fails).
 */
export async function startServer(
  options: ServerOptions,
): Promise<RunningServer> {
  const { store, layout } = options;
  const bodyLimit = options.bodyLimit ?? 1 << 20;
  const clock = options.clock ?? Date.now;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const graceMs = options.graceMs ?? 5_000;
  const healthTimeoutMs = options.healthTimeoutMs ?? 1_000;
  const log =
    options.log ?? ((m: string) => process.stderr.write(`traqq serve: ${m}\n`));
  const engine = createEngineSync({
    config: options.config,
    engine: options.engine,
    clock,
  });
  const batcher = new Batcher(engine, store, layout, {
    flushMs: options.flushMs ?? 50,
    batchEvents: options.batchEvents ?? 4096,
    log,
  });
  const webRoot = options.webRoot ?? defaultWebRoot();
  const wasmFile = fileURLToPath(
    new URL("../pkg/web/traqq_bg.wasm", import.meta.url),
  );
  const auth = bearer(options.token);

  const app = Fastify({
    bodyLimit,
    logger: false,
    // The onRequest hook below answers while closing, in our own shape.
    return503OnClosing: false,
    requestTimeout: requestTimeoutMs,
    // Node looks for late requests every 30 s by default, which would let
    // a slow client hold a request up to twice the timeout.
    http:
      requestTimeoutMs > 0
        ? {
            requestTimeout: requestTimeoutMs,
            connectionsCheckingInterval: Math.min(
              1000,
              Math.max(25, Math.floor(requestTimeoutMs / 4)),
            ),
          }
        : undefined,
    // A path that cannot be decoded never reaches the error handler.
    frameworkErrors: (err, req, reply) => {
      const [status, message] = describeError(err, bodyLimit, req);
      void (reply as FastifyReply).code(status).send({ error: message });
    },
    // Broken HTTP (a negative Content-Length, a request that took too
    // long) is answered on the bare socket: there is no request object.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      const [status, message] = describeClientError(err, requestTimeoutMs);
      // A response already under way cannot be followed by another one.
      const current = (socket as { _httpMessage?: { headersSent?: boolean } })
        ._httpMessage;
      if (socket.writable && !current?.headersSent)
        socket.write(rawResponse(status, message));
      socket.destroy();
    },
  });

  // Bodies arrive as text: JSON is split into events without parsing
  // numbers (see body.ts), NDJSON goes to the engine line by line.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string" },
    (_req, body, done) => done(null, { json: true, text: body as string }),
  );
  app.addContentTypeParser(
    NDJSON_TYPES,
    { parseAs: "string" },
    (_req, body, done) => done(null, { json: false, text: body as string }),
  );

  // Requests that still arrive while closing (on a kept-alive connection)
  // are turned away, and every answer given then ends its connection, or
  // a kept-alive client would hold close() up until its idle timeout.
  let shuttingDown = false;
  app.addHook("onRequest", async () => {
    if (shuttingDown)
      throw new HttpError(503, "server: shutting down; send this again later");
  });
  app.addHook("onSend", async (_req, reply, payload) => {
    if (shuttingDown) void reply.header("connection", "close");
    return payload;
  });

  app.setErrorHandler(
    (err: Error & { code?: string; statusCode?: number }, req, reply) => {
      const [status, message] = describeError(err, bodyLimit, req);
      // Turning requests away while closing is no news.
      if (status >= 500 && !(shuttingDown && status === 503)) {
        const what = err instanceof HttpError ? err.message : err.stack;
        log(`${req.method} ${req.url}: ${what ?? err.message}`);
      }
      void reply.code(status).send({ error: message });
    },
  );
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send({ error: `no route ${req.method} ${req.url.split("?")[0]}` });
  });

  /** Answers 405 to the methods `url` does not take, naming those it does. */
  const allowOnly = (url: string, allowed: string[]) => {
    const allow = allowed.join(", ");
    const others = app.supportedMethods.filter((m) => !allowed.includes(m));
    app.route({
      method: others,
      url,
      // Before the body is read: a PUT's body is never parsed.
      onRequest: async (req, reply) => {
        void reply.header("allow", allow);
        throw new HttpError(
          405,
          `method: ${req.method} is not allowed on ${req.url.split("?")[0]}; use ${allow}`,
        );
      },
      handler: async () => undefined,
    });
  };

  app.post(
    "/events",
    {
      onRequest: auth,
      preParsing: async (req, _reply, payload) =>
        decodeBody(req, payload, bodyLimit),
    },
    async (req) => {
      const body = req.body as { json: boolean; text: string } | undefined;
      if (body === undefined) {
        throw new HttpError(
          415,
          `content-type: expected application/json or application/x-ndjson`,
        );
      }
      let lines: BodyLines;
      try {
        lines = body.json ? jsonLines(body.text) : ndjsonLines(body.text);
      } catch (e) {
        if (e instanceof BodyError) throw new HttpError(400, e.message);
        throw e;
      }
      return batcher.add(lines);
    },
  );
  allowOnly("/events", ["POST"]);

  app.get("/query", { onRequest: auth }, async (req) => {
    const q = parseQuery(req.query as Record<string, string | string[]>);
    try {
      return await query({ config: engine.config, store, layout, clock }, q);
    } catch (e) {
      if (e instanceof QueryError) throw new HttpError(400, e.message);
      // A Redis that cannot be read is a 503 the client may retry; the
      // memory store cannot fail that way, so there it is a bug.
      const message = (e as Error).message;
      const ours =
        store.kind === "memory" ||
        e instanceof RangeError ||
        e instanceof TypeError;
      if (ours) throw new HttpError(500, `query failed: ${message}`);
      throw new HttpError(503, `store: ${message}`);
    }
  });
  allowOnly("/query", ["GET", "HEAD"]);

  app.get("/config", { onRequest: auth }, async () => engine.config);
  allowOnly("/config", ["GET", "HEAD"]);

  // One cheap read tells a load balancer whether events would land: a
  // server whose Redis is gone cannot take any.
  const probeKey = layoutKey({
    prefix: engine.config.prefix,
    tagged: store.tagged,
  });
  app.get("/health", async (_req, reply) => {
    const about = { store: store.kind, layout, engine: engine.name };
    try {
      await within(
        store.mget([probeKey]),
        healthTimeoutMs,
        `no answer within ${healthTimeoutMs} ms`,
      );
    } catch (e) {
      return reply
        .code(503)
        .send({ ok: false, ...about, error: `store: ${(e as Error).message}` });
    }
    return { ok: true, ...about };
  });
  allowOnly("/health", ["GET", "HEAD"]);

  const sendFile = async (reply: FastifyReply, file: string) => {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      throw new HttpError(404, `not found: ${file.split("/").pop()}`);
    }
    return reply
      .type(MIME[extname(file)] ?? "application/octet-stream")
      .header("cache-control", "no-cache")
      .header("x-content-type-options", "nosniff")
      .send(data);
  };
  app.get("/", async (_req, reply) => {
    const page = join(webRoot, "index.html");
    if (!existsSync(page)) {
      throw new HttpError(
        404,
        `the dashboard is not built: no ${page} (run scripts/build-web.sh)`,
      );
    }
    return sendFile(reply, page);
  });
  allowOnly("/", ["GET", "HEAD"]);
  app.get("/wasm/traqq_bg.wasm", async (_req, reply) =>
    sendFile(reply, wasmFile),
  );
  allowOnly("/wasm/traqq_bg.wasm", ["GET", "HEAD"]);
  app.get("/:file", async (req, reply) => {
    const name = (req.params as { file: string }).file;
    // One folder, plain names: nothing can reach outside it.
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name))
      throw new HttpError(404, `not found: ${name}`);
    return sendFile(reply, join(webRoot, name));
  });
  allowOnly("/:file", ["GET", "HEAD"]);

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (e) {
    engine.free();
    throw new ListenError(options.host, options.port, listenReason(e), {
      cause: e,
    });
  }

  let closing: Promise<void> | undefined;
  let endGrace = () => {};
  const graceOver = new Promise<void>((r) => (endGrace = r));
  return {
    url: baseUrl(app.server.address() as AddressInfo),
    get acknowledged() {
      return batcher.acknowledged;
    },
    get unanswered() {
      return batcher.unanswered;
    },
    closeConnections: () => endGrace(),
    close() {
      closing ??= (async () => {
        // Stop taking requests first; those in flight wait on the batcher,
        // which now writes at once instead of waiting for its timer.
        shuttingDown = true;
        const stopped = app.close();
        batcher.closing();
        const timer = setTimeout(endGrace, graceMs);
        const inTime = await Promise.race([
          stopped.then(() => true),
          graceOver.then(() => false),
        ]);
        clearTimeout(timer);
        if (!inTime) {
          // A client that trickles its body (or never reads the answer)
          // would otherwise keep the process up for as long as it likes.
          log("closing the connections of requests still open");
          app.server.closeAllConnections();
          await stopped;
        }
        try {
          // Events of requests cut off above were received whole: they
          // are still written, though their clients hear nothing.
          await batcher.drain();
          await store.close();
        } finally {
          engine.free();
        }
      })();
      return closing;
    },
  };
}

/** A status and message for any error a route or fastify raised. */
function describeError(
  err: Error & { code?: string; statusCode?: number },
  bodyLimit: number,
  req: FastifyRequest,
): [number, string] {
  if (err instanceof HttpError) return [err.status, err.message];
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return [413, `body: larger than the limit of ${bodyLimit} bytes`];
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_EMPTY_TYPE":
    case "FST_ERR_CTP_INVALID_TYPE":
      return [
        415,
        `content-type: expected application/json or application/x-ndjson (or text/plain), ` +
          `got ${JSON.stringify(req.headers["content-type"] ?? "")}`,
      ];
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return [400, "body: its length differs from the Content-Length header"];
    case "FST_ERR_BAD_URL":
      return [
        400,
        `url: cannot decode ${JSON.stringify(req.url)}; a % must start an escape such as %20 of UTF-8 bytes`,
      ];
    case "FST_ERR_MAX_PARAM_LENGTH":
      return [414, "url: a part of the path is longer than 100 characters"];
  }
  // Whatever else fastify or a body stream raised, in our words.
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return [status, `request: ${lowerFirst(err.message)}`];
  return [500, `internal error: ${err.message}`];
}

/** A status and message for HTTP that Node's parser refused, or a late request. */
function describeClientError(
  err: NodeJS.ErrnoException & { reason?: string },
  requestTimeoutMs: number,
): [number, string] {
  const reason = lowerFirst(err.reason ?? err.message);
  switch (err.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [
        408,
        `request: not received in full within ${requestTimeoutMs / 1000} s`,
      ];
    case "HPE_HEADER_OVERFLOW":
      return [431, `request: headers larger than ${maxHeaderSize} bytes`];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return [413, "body: chunk extensions too large"];
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return [400, `content-length: ${reason}`];
    case "HPE_INVALID_EOF_STATE":
      return [400, "body: the connection ended before the whole body arrived"];
  }
  return [400, `request: not valid HTTP/1.1 (${reason})`];
}

/** A whole HTTP response with a JSON error, for a socket with no request. */
function rawResponse(status: number, message: string): string {
  const body = JSON.stringify({ error: message });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

/** `Invalid character` as `invalid character`; names such as `Content-Length` stay. */
function lowerFirst(s: string): string {
  return /^[A-Z][a-z]*\b(?!-)/.test(s)
    ? s.charAt(0).toLowerCase() + s.slice(1)
    : s;
}

/** Why `listen()` failed, in words a user can act on. */
function listenReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOTFOUND: "no such host",
    EAI_AGAIN: "the host name cannot be resolved now",
    EADDRINUSE: "the port is in use",
    EADDRNOTAVAIL: "not an address of this machine",
    EACCES: "permission denied",
    ERR_SOCKET_BAD_PORT: "the port must be 0 to 65535",
  };
  const known = err.code === undefined ? undefined : why[err.code];
  return known ? `${known} (${err.message})` : (err.message ?? String(e));
}

/** `work`, or a rejection with `message` once `ms` have passed. */
function within<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  // A failure after the deadline has nobody left to hear it.
  work.catch(() => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Charsets a body may declare: UTF-8, and ASCII, which is a part of it. */
const CHARSETS = ["utf-8", "utf8", "us-ascii"];

/**
 * The body of `POST /events` as fastify should read it: checked for its
 * charset and decoded from gzip, deflate or br. The body limit holds for
 * the decoded bytes too, so a small compressed body cannot blow up.
 */
async function decodeBody(
  req: FastifyRequest,
  payload: Readable,
  limit: number,
): Promise<Readable> {
  const charset = mediaTypeParam(req.headers["content-type"], "charset");
  if (charset !== undefined && !CHARSETS.includes(charset.toLowerCase())) {
    throw new HttpError(
      415,
      `content-type: charset ${JSON.stringify(charset)} is not supported; send utf-8`,
    );
  }

  const header = req.headers["content-encoding"] ?? "";
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return payload;
  if (codings.length > 1) {
    throw new HttpError(
      415,
      `content-encoding: ${JSON.stringify(header)} stacks encodings; use one of gzip, deflate, br`,
    );
  }
  const coding = codings[0]!;
  let decoder: Transform;
  if (coding === "gzip" || coding === "x-gzip") decoder = createGunzip();
  else if (coding === "deflate") decoder = createInflate();
  else if (coding === "br") decoder = createBrotliDecompress();
  else {
    throw new HttpError(
      415,
      `content-encoding: ${JSON.stringify(coding)} is not supported; use gzip, deflate, br or none`,
    );
  }

  let decoded = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      decoded += chunk.length;
      if (decoded <= limit) return done(null, chunk);
      // Read and drop the rest, or the connection would stall on it.
      payload.unpipe(decoder);
      payload.resume();
      done(
        new HttpError(
          413,
          `body: larger than the limit of ${limit} bytes once decoded from ${coding}`,
        ),
      );
    },
  }) as Transform & { receivedEncodedLength: number };
  // Fastify checks the Content-Length against this, and the limit too.
  out.receivedEncodedLength = 0;
  payload.on("data", (c: Buffer) => (out.receivedEncodedLength += c.length));
  payload.on("error", (e) => out.destroy(e));
  decoder.on("error", (e) =>
    out.destroy(
      new HttpError(400, `body: not valid ${coding} data (${e.message})`),
    ),
  );
  // Fastify stops listening at its first error; a second must not crash.
  out.on("error", () => {});
  payload.pipe(decoder).pipe(out);
  return out;
}

/** A parameter of a media type: `charset` of `text/plain; charset=utf-8`. */
function mediaTypeParam(
  type: string | undefined,
  name: string,
): string | undefined {
  for (const part of (type ?? "").split(";").slice(1)) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim().toLowerCase() !== name) continue;
    return part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
  }
  return undefined;
}

/** Checks `Authorization: Bearer <token>` when a token is set. */
function bearer(token: string | undefined) {
  // Compared as digests: equal lengths, and the time says nothing of the token.
  const digest = (s: string) => createHash("sha256").update(s).digest();
  const want = token === undefined ? undefined : digest(token);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (want === undefined) return;
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m && timingSafeEqual(digest(m[1]!), want)) return;
    void reply.header("www-authenticate", 'Bearer realm="traqq"');
    throw new HttpError(
      401,
      m
        ? "authorization: wrong bearer token"
        : "authorization: this server needs 'Authorization: Bearer <token>'",
    );
  };
}

/** The query string of `GET /query` as query options; throws a 400 when it is off. */
function parseQuery(raw: Record<string, string | string[]>): QueryOptions {
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries(raw)) {
    if (!(QUERY_PARAMS as readonly string[]).includes(name)) {
      throw new HttpError(
        400,
        `unknown query parameter ${JSON.stringify(name)}; expected ${QUERY_PARAMS.join(", ")}`,
      );
    }
    // `values` may be repeated; anything else twice is ambiguous.
    if (Array.isArray(value) && name !== "values") {
      throw new HttpError(400, `${name}: given more than once`);
    }
    params.set(name, Array.isArray(value) ? value.join(",") : value);
  }

  const metric = params.get("metric");
  if (metric === undefined)
    throw new HttpError(400, "metric: required (add, adv, bmp or top)");
  if (!(METRICS as readonly string[]).includes(metric)) {
    throw new HttpError(
      400,
      `metric: expected add, adv, bmp or top, got ${JSON.stringify(metric)}`,
    );
  }
  const pattern = params.get("pattern");
  if (!pattern)
    throw new HttpError(400, "pattern: required, e.g. pattern=event");
  const q: QueryOptions = { metric: metric as Metric, pattern };

  const by = params.get("by");
  if (by !== undefined) {
    if (!(GRANULARITIES as readonly string[]).includes(by)) {
      throw new HttpError(
        400,
        `by: expected hour, day or total, got ${JSON.stringify(by)}`,
      );
    }
    q.by = by as Granularity;
  }
  const top = params.get("top");
  if (top !== undefined) {
    if (!/^[0-9]+$/.test(top) || Number(top) < 1) {
      throw new HttpError(
        400,
        `top: expected a whole number of at least 1, got ${JSON.stringify(top)}`,
      );
    }
    q.top = Number(top);
  }
  const values = params.get("values");
  if (values !== undefined)
    q.values = values.split(",").filter((v) => v !== "");
  const set = (name: string, apply: (v: string) => void) => {
    const v = params.get(name);
    if (v !== undefined && v !== "") apply(v);
  };
  set("addKey", (v) => (q.addKey = v));
  set("from", (v) => (q.from = v));
  set("to", (v) => (q.to = v));
  // query() names the shortcuts it knows when this is not one of them.
  set("range", (v) => (q.range = v as RangeShortcut));
  set("prefix", (v) => (q.valuePrefix = v));
  return q;
}

/** One request's events while they wait for, and go through, a batch. */
interface Waiting {
  body: BodyLines;
  /** Its first line in the batch, from 1. */
  first: number;
  rejections: { index: number; error: string }[];
  failures: Map<string, { key: string; error: string; indexes: Set<number> }>;
  resolve(r: EventsResponse): void;
  reject(e: Error): void;
}

/**
 * Collects the events of concurrent requests into store batches: one
 * `record()` per batch, one batch in flight at a time. While a batch is
 * being written the next one fills, so a slow store makes batches bigger
 * rather than requests pile up one write each.
 */
class Batcher {
  private pending: Waiting[] = [];
  private pendingLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private due = false;
  private shuttingDown = false;
  private writing = 0;
  /** Events stored and reported as accepted so far. */
  acknowledged = 0;

  constructor(
    private readonly engine: Engine,
    private readonly store: Store,
    private readonly layout: Layout,
    private readonly opts: {
      flushMs: number;
      batchEvents: number;
      log: (m: string) => void;
    },
  ) {}

  /** Queues one request's events; resolves once they are in the store. */
  add(body: BodyLines): Promise<EventsResponse> {
    if (body.lines === 0) {
      return Promise.resolve({
        accepted: 0,
        rejected: 0,
        rejections: [],
        failures: [],
      });
    }
    return new Promise((resolve, reject) => {
      this.pending.push({
        body,
        first: 0,
        rejections: [],
        failures: new Map(),
        resolve,
        reject,
      });
      this.pendingLines += body.lines;
      if (this.shuttingDown || this.pendingLines >= this.opts.batchEvents)
        this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.opts.flushMs);
    });
  }

  /** Lines received and not yet answered: waiting, or being written. */
  get unanswered(): number {
    return this.pendingLines + this.writing;
  }

  /** From now on, write without waiting for the timer. */
  closing(): void {
    this.shuttingDown = true;
    this.kick();
  }

  /** Resolves when nothing is pending or in flight. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.pending.length > 0) this.kick();
      else return;
    }
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      this.due = true;
      return;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.writing = this.pendingLines;
    this.pending = [];
    this.pendingLines = 0;
    this.running = this.write(batch).finally(() => {
      this.running = undefined;
      this.writing = 0;
      if (this.due) {
        this.due = false;
        this.kick();
      }
    });
  }

  private async write(batch: Waiting[]): Promise<void> {
    let line = 1;
    for (const w of batch) {
      w.first = line;
      line += w.body.lines;
    }
    // Batches are in line order, so a binary search finds a line's request.
    const owner = (l: number): Waiting => {
      let lo = 0;
      let hi = batch.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (batch[mid]!.first <= l) lo = mid;
        else hi = mid - 1;
      }
      return batch[lo]!;
    };
    const refused: OpFailure[] = [];

    try {
      await record(batch.map((w) => w.body.text).join(""), {
        engine: this.engine,
        store: this.store,
        layout: this.layout,
        onRejected: (l, error) => {
          const w = owner(l);
          w.rejections.push({ index: l - w.first, error });
        },
        onFailure: (f) => {
          refused.push(f);
          for (const l of f.lines) {
            const w = owner(l);
            const id = `${f.op.key}\n${f.error}`;
            let entry = w.failures.get(id);
            if (!entry)
              w.failures.set(
                id,
                (entry = { key: f.op.key, error: f.error, indexes: new Set() }),
              );
            entry.indexes.add(l - w.first);
          }
        },
      });
    } catch (e) {
      this.opts.log(
        `a batch of ${plural(line - 1, "event")} was not stored: ${(e as Error).message}`,
      );
      // What the engine could not do (a batch past a string's length)
      // would fail again the same way; a store that stayed away is worth
      // a retry.
      const error =
        e instanceof EngineError
          ? new HttpError(
              500,
              `these events could not be processed: ${(e as Error).message}; nothing of them was stored`,
            )
          : new HttpError(
              503,
              `store unavailable (${this.store.kind}); these events were not stored, send them again later`,
            );
      for (const w of batch) w.reject(error);
      return;
    }

    if (refused.length > 0) {
      this.opts.log(
        `${plural(refused.length, "write")} refused, e.g. ${refused[0]!.op.key}: ${refused[0]!.error}`,
      );
    }
    for (const w of batch) {
      const rejected = w.rejections.length;
      const accepted = w.body.lines - w.body.blanks - rejected;
      this.acknowledged += accepted;
      w.resolve({
        accepted,
        rejected,
        rejections: w.rejections,
        failures: [...w.failures.values()].map((f) => ({
          key: f.key,
          error: f.error,
          indexes: [...f.indexes].sort((a, b) => a - b),
        })),
      });
    }
  }
}

/** `dist/web`, seen from `dist/ts/server.js` or from `ts/server.ts`. */
function defaultWebRoot(): string {
  for (const rel of ["../web/", "../dist/web/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, "dashboard.js"))) return dir;
  }
  return fileURLToPath(new URL("../dist/web/", import.meta.url));
}

function baseUrl(addr: AddressInfo): string {
  // A wildcard address is not one a browser can open.
  let host = addr.address;
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
}
