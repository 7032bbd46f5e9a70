/**
 * `traqq serve`: the HTTP API and dashboard of `ts/server.ts` on a store
 * chosen as for `ingest`, until SIGINT or SIGTERM; then what is pending
 * is written and the memory store saved.
 */
import { startServer } from "../server.js";
import { LayoutMismatchError, resolveLayout } from "../store/layout.js";
import type { Layout } from "../store/types.js";
import type { EngineName } from "../types.js";
import { readConfig, UsageError } from "./common.js";
import { chooseStore, describeStore, openForWriting } from "./stores.js";

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
}

/** Runs `traqq serve` until a signal stops it; resolves to the exit code. */
export async function runServe(opts: ServeCommandOptions): Promise<number> {
  const config = readConfig(opts.config);
  const choice = chooseStore(opts);
  // From the environment, a token stays out of `ps` listings.
  const token = opts.token ?? (process.env.TRAQQ_TOKEN || undefined);
  const opened = await openForWriting(choice, {
    prefix: config.prefix,
    layout: opts.layout ?? "flat",
  });
  let layout: Layout;
  try {
    layout = (await resolveLayout(opened.store, config.prefix, opts.layout))
      .layout;
  } catch (e) {
    await opened.release(false);
    if (e instanceof LayoutMismatchError) throw new UsageError(e.message);
    throw e;
  }

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      config,
      store: opened.store,
      layout,
      engine: opts.engine,
      host: opts.host,
      port: opts.port,
      token,
      bodyLimit: opts.bodyLimit,
    });
  } catch (e) {
    // Nothing was recorded: the memory store's file stays as it was.
    await opened.release(false);
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`cannot listen on ${opts.host}:${opts.port}: ${message}`);
  }
  process.stderr.write(
    `traqq serve: listening on ${server.url} (${describeStore(choice)}, ` +
      `${layout} layout, ${opts.engine} engine` +
      `${token ? ", token required" : ""})\n`,
  );

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  process.stderr.write(`traqq serve: ${signal}: writing pending events\n`);
  // close() records what is pending and closes the store, which saves
  // the memory store's file; release() then drops the lock.
  try {
    await server.close();
  } finally {
    await opened.release(false);
  }
  process.stderr.write("traqq serve: stopped\n");
  return 0;
}
