/**
 * The layout of stored counters is recorded next to them on the first
 * ingest, so that later ingests and queries follow it instead of
 * finding nothing (or mixing two layouts) when a flag is forgotten.
 */
import { layoutKey } from "./keys.js";
import type { Layout, StoreReader } from "./types.js";

/** A layout asked for that is not the one the data was written in. */
export class LayoutMismatchError extends Error {
  override name = "LayoutMismatchError";
}

/**
 * The layout to use: the recorded one, or `requested`, or `flat`.
 * Throws {@link LayoutMismatchError} when `requested` contradicts the
 * recorded layout.
 */
export async function resolveLayout(
  store: StoreReader & { tagged: boolean },
  prefix: string,
  requested?: Layout,
): Promise<{ layout: Layout; recorded: boolean }> {
  const [stored] = await store.mget([
    layoutKey({ prefix, tagged: store.tagged }),
  ]);
  if (stored === "flat" || stored === "hash") {
    if (requested && requested !== stored) {
      const where =
        prefix === "" ? "this store" : `prefix "${prefix}" in this store`;
      throw new LayoutMismatchError(
        `layout: ${where} holds counters in the ${stored} layout, not ${requested}; ` +
          `use --layout ${stored} (or leave it out)`,
      );
    }
    return { layout: stored, recorded: true };
  }
  return { layout: requested ?? "flat", recorded: false };
}
