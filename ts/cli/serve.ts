/**
 * `traqq serve`: the HTTP API and dashboard of `ts/server.ts` on a store
 * chosen as for `ingest`, until SIGINT or SIGTERM; then what is pending
 * is written and the memory store saved.
 *
 * A first signal stops the server: requests in flight get a grace period,
 * then their connections are closed, pending events written and the store
 * saved. A second one skips what is left of the grace period; a third
 * quits at once, saying what that loses.
 */
import { ListenError, startServer, type RunningServer } from "../server.js";
import { LayoutMismatchError, resolveLayout } from "../store/layout.js";
import type { Layout } from "../store/types.js";
import type { EngineName } from "../types.js";
import { plural, readConfig, UsageError } from "./common.js";
import {
  chooseStore,
  describeStore,
  openForWriting,
  type StoreChoice,
} from "./stores.js";

/** Options of `traqq serve`, as commander hands them over. */
export interface ServeCommandOptions {
  config: string;
  store?: string;
  redis?: string;
  cluster?: string;
  layout?: Layout;
  engine: EngineName;
  host: string;
  port: number;
  token?: string;
  bodyLimit?: number;
  /** Seconds to retry a batch while Redis is unreachable; default 5. */
  retryFor?: number;
  /** Seconds a client has to send a whole request; default 30, 0 for none. */
  requestTimeout?: number;
  /** Seconds requests in flight get to finish on shutdown; default 5. */
  grace?: number;
}

/**
 * How long a request waits for an unreachable Redis before it is answered
 * 503: an HTTP client should not be held as long as an ingest run waits.
 */
const HTTP_RETRY_SECONDS = 5;
const GRACE_SECONDS = 5;

/** Exit codes of a process that a signal ended, as shells report them. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Runs `traqq serve` until a signal stops it; resolves to the exit code. */
export async function runServe(opts: ServeCommandOptions): Promise<number> {
  // Everything the user can get wrong is checked before the store is
  // opened (and a memory store locked).
  checkPort(opts.port);
  const token = chooseToken(opts.token, process.env.TRAQQ_TOKEN);
  const graceSeconds = opts.grace ?? GRACE_SECONDS;
  const config = readConfig(opts.config);
  const choice = chooseStore(opts);
  const retryForMs = (opts.retryFor ?? HTTP_RETRY_SECONDS) * 1000;
  // Reads wait no longer than writes retry: an HTTP client is waiting.
  const opened = await openForWriting(choice, {
    prefix: config.prefix,
    layout: opts.layout ?? "flat",
    retryForMs,
    readDeadlineMs: Math.max(retryForMs, 1000),
  });
  const store = opened.store;
  let layout: Layout;
  try {
    layout = (await resolveLayout(store, config.prefix, opts.layout)).layout;
  } catch (e) {
    await opened.release(false);
    if (e instanceof LayoutMismatchError) throw new UsageError(e.message);
    throw new Error(
      `cannot read ${describeStore(choice)}: ${(e as Error).message}`,
      { cause: e },
    );
  }

  let server: RunningServer;
  try {
    server = await startServer({
      config,
      store,
      layout,
      engine: opts.engine,
      host: opts.host,
      port: opts.port,
      token,
      bodyLimit: opts.bodyLimit,
      requestTimeoutMs:
        opts.requestTimeout === undefined
          ? undefined
          : opts.requestTimeout * 1000,
      graceMs: graceSeconds * 1000,
    });
  } catch (e) {
    // Nothing was recorded: the memory store's file stays as it was.
    await opened.release(false);
    // A host or port that cannot be listened on is the user's to change.
    if (e instanceof ListenError) throw new UsageError(e.message);
    throw e;
  }
  process.stderr.write(
    `traqq serve: listening on ${server.url} (${describeStore(choice)}, ` +
      `${layout} layout, ${opts.engine} engine` +
      `${token ? ", token required" : ""})\n`,
  );

  const say = (m: string) => process.stderr.write(`traqq serve: ${m}\n`);
  const what = saving(choice);
  let signals = 0;
  let first: (signal: string) => void = () => {};
  const stopping = new Promise<string>((r) => (first = r));
  // Handlers stay installed to the end: Node's default for a second
  // SIGINT would end the process without saving and leave the lock.
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(
        `${signal}: stopping; requests in flight get ${graceSeconds} s, ` +
          `then pending events are written${what.then}`,
      );
      first(signal);
    } else if (signals === 2) {
      say(
        `${signal} again: closing open connections now; still writing ` +
          `pending events${what.then} (${signal} once more quits without that)`,
      );
      server.closeConnections();
    } else {
      quit(signal, choice, server, () => opened.release(false));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    await stopping;
    // close() records what is pending and closes the store, which saves
    // the memory store's file; release() then drops the lock.
    try {
      await server.close();
    } catch (e) {
      const why = (e as Error).message;
      throw new Error(what.failed(server.acknowledged, why), { cause: e });
    } finally {
      await opened.release(false);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  say(`stopped (${plural(server.acknowledged, "event")} acknowledged)`);
  return 0;
}

/** Fails unless `port` can be listened on: 0 (any free one) to 65535. */
function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `--port: expected 0 to 65535 (0: any free port), got ${port}`,
    );
  }
}

/**
 * The token from `--token`, else `TRAQQ_TOKEN`. An empty one is refused:
 * `TRAQQ_TOKEN=$UNSET` would otherwise start a server open to anyone.
 */
function chooseToken(
  flag: string | undefined,
  env: string | undefined,
): string | undefined {
  const [token, source] =
    flag !== undefined ? [flag, "--token"] : [env, "TRAQQ_TOKEN"];
  if (token === undefined) return undefined;
  if (token === "") {
    const instead = flag !== undefined ? "leave --token out" : "unset it";
    throw new UsageError(
      `${source}: empty; give a token, or ${instead} to serve without ` +
        `authentication`,
    );
  }
  // `Authorization: Bearer <token>` cannot carry these.
  if (/[\s\x00-\x1f\x7f]/.test(token)) {
    throw new UsageError(
      `${source}: must not contain spaces or control characters`,
    );
  }
  return token;
}

/** How the messages name what shutdown does to the store. */
function saving(choice: StoreChoice): {
  then: string;
  failed: (acknowledged: number, why: string) => string;
} {
  if (choice.kind === "memory") {
    return {
      then: ` and ${choice.file} saved`,
      failed: (n, why) =>
        `cannot save ${choice.file}: ${why}; the ${plural(n, "event")} acknowledged ` +
        `since the start are not in it`,
    };
  }
  return {
    then: "",
    failed: (_n, why) => `cannot close ${describeStore(choice)}: ${why}`,
  };
}

/** The third signal: leave now, and say plainly what is lost. */
function quit(
  signal: NodeJS.Signals,
  choice: StoreChoice,
  server: RunningServer,
  release: () => Promise<void>,
): void {
  const code = SIGNAL_EXIT[signal] ?? 1;
  const say = (m: string) => process.stderr.write(`traqq serve: ${m}\n`);
  if (choice.kind !== "memory") {
    // What was acknowledged is in Redis already.
    const waiting = server.unanswered;
    say(
      `${signal} a third time: quitting now; ` +
        (waiting > 0
          ? `${plural(waiting, "event")} of requests not yet answered may not be stored`
          : "every acknowledged event is stored"),
    );
    process.exit(code);
  }
  const n = server.acknowledged;
  const lost =
    n > 0
      ? `the ${plural(n, "event")} acknowledged since the start are not saved (${choice.file} keeps what it held before)`
      : "no events were acknowledged, so none are lost";
  // The lock is ours: removing it spares the next run a stale one.
  release().then(
    () => {
      say(`${signal} a third time: quitting without saving; ${lost}`);
      process.exit(code);
    },
    (e: Error) => {
      say(
        `${signal} a third time: quitting without saving; ${lost}; ` +
          `remove ${choice.file}.lock by hand (${e.message})`,
      );
      process.exit(code);
    },
  );
}
