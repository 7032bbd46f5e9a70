/**
 * Benchmark inputs: web-tracker-like events from a seeded generator, and
 * the level configs of issue 2, shaped like the reference Rust project's
 * benchmark (each level adds patterns, so each level does more work).
 */
import type { ConfigInput } from "../ts/types.js";

/**
 * A tiny seeded PRNG (mulberry32): the same seed gives the same events on
 * every machine, so runs and engines compare like with like.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Page views dominate real traffic, hence the repeats.
const EVENTS = [
  "page_view",
  "page_view",
  "page_view",
  "page_view",
  "click",
  "click",
  "scroll",
  "search",
  "add_to_cart",
  "purchase",
  "signup",
  "login",
];
const SOURCES = [
  "google",
  "facebook",
  "twitter",
  "newsletter",
  "bing",
  "direct",
];
const MEDIUMS = ["cpc", "organic", "social", "email", "referral", "none"];
const TERMS = ["running shoes", "trail shoes", "socks", "rain jacket", "sale"];
const CAMPAIGNS = ["spring_sale", "black_friday", "launch", "retargeting"];
const PATHS = ["/", "/products", "/products/42", "/cart", "/checkout", "/blog"];
const BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Opera"];
const OSES = ["Windows", "macOS", "Linux", "iOS", "Android"];
const DEVICE_TYPES = ["desktop", "mobile", "tablet"];
const VENDORS = ["Apple", "Samsung", "Google", "Lenovo", "Dell"];
const PLACES: [string, string][] = [
  ["US", "New York"],
  ["US", "San Francisco"],
  ["DE", "Berlin"],
  ["FR", "Paris"],
  ["IN", "Bengaluru"],
  ["BR", "São Paulo"],
  ["JP", "Tokyo"],
];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " +
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 " +
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) " +
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 " +
    "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
];

/** The numeric-named properties the level configs use (`4` to `19`). */
export const NUMBERED_PROPERTIES = 19;

/**
 * `count` web-tracker events from `seed`. Every event carries every
 * property a level config names, so higher levels really do more work.
 *
 * @example
 * const [first] = generateEvents(1, 42); // { event: "page_view", ... }
 */
export function generateEvents(
  count: number,
  seed = 1,
): Record<string, unknown>[] {
  const rand = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T =>
    list[Math.floor(rand() * list.length)]!;
  const int = (below: number) => Math.floor(rand() * below);
  const hex32 = () => {
    let s = "";
    for (let i = 0; i < 4; i++) {
      s += int(0x100000000).toString(16).padStart(8, "0");
    }
    return s;
  };

  const events: Record<string, unknown>[] = [];
  for (let n = 0; n < count; n++) {
    const [country, city] = pick(PLACES);
    const e: Record<string, unknown> = {
      event: pick(EVENTS),
      ts: 1727740800000 + n * 250,
      user_id: hex32(),
      session_id: hex32(),
      ip: `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`,
      url: `https://shop.example.com${pick(PATHS)}?ref=${int(1000)}`,
      user_agent: pick(AGENTS),
      browser: pick(BROWSERS),
      os: pick(OSES),
      utm_source: pick(SOURCES),
      utm_medium: pick(MEDIUMS),
      utm_term: pick(TERMS),
      utm_campaign: pick(CAMPAIGNS),
      amount: amount(rand),
      device: { type: pick(DEVICE_TYPES), vendor: pick(VENDORS) },
      location: { country, city },
    };
    // Few distinct values each, as dimensions in real data have; numbers
    // and strings alternate so both kinds of value get formatted.
    for (let i = 4; i <= NUMBERED_PROPERTIES; i++) {
      e[String(i)] = i % 2 === 0 ? int(5) : `v${int(5)}`;
    }
    events.push(e);
  }
  return events;
}

// The spec accepts three shapes of amount; each takes its own path
// through number formatting, so the mix matters for speed.
function amount(rand: () => number): number | string {
  const kind = rand();
  if (kind < 0.4) return Math.round(rand() * 50000) / 100;
  if (kind < 0.7) return 1 + Math.floor(rand() * 500);
  return (rand() * 200).toFixed(2);
}

/** Events as NDJSON text, one per line, the engines' fast-path input. */
export function toLines(events: readonly object[]): string {
  let out = "";
  for (const e of events) out += JSON.stringify(e) + "\n";
  return out;
}

/** NDJSON batches of `size` events each, from `events` in order. */
export function toBatches(events: readonly object[], size: number): string[] {
  const batches: string[] = [];
  for (let i = 0; i < events.length; i += size) {
    batches.push(toLines(events.slice(i, i + size)));
  }
  return batches;
}

/**
 * The level-`n` benchmark config of issue 2 (levels 1 to 20). Each level
 * adds `add` and `addValue` patterns, longer ones as `n` grows.
 *
 * `device` in the issue's `event~browser~device` is read as `device.type`:
 * events carry `device` as a nested object (`{type, vendor}`), so a flat
 * `device` property would never be present and the pattern would do
 * nothing; `device.type` also puts nested flattening on the hot path.
 */
export function levelConfig(n: number): ConfigInput {
  if (!Number.isInteger(n) || n < 1 || n > NUMBERED_PROPERTIES + 1) {
    throw new RangeError(`levelConfig: level must be 1 to 20, got ${n}`);
  }
  const utm = "event~utm_source~utm_medium~utm_campaign";
  const add = [
    "event",
    "event~utm_source",
    "event~utm_medium",
    "event~utm_campaign",
  ];
  if (n >= 2) add.push("event~utm_source~utm_medium");
  if (n >= 3) add.push(utm);
  if (n >= 4) add.push("event~browser~device.type");
  if (n >= 5) add.push("event~browser~device.type~utm_source");
  for (let i = 6; i < n; i++) add.push(`${utm}~${i}`);

  const sums = ["event", "event~utm_source"];
  if (n >= 2) sums.push("event~utm_source~utm_medium");
  if (n >= 3) sums.push(utm);
  for (let i = 4; i < n; i++) sums.push(`event~utm_source~utm_medium~${i}`);

  return {
    time: { timezone: "UTC" },
    mapping: {
      bitmap: ["ip"],
      add,
      addValue: sums.map((key) => ({ key, addKey: "amount" })),
      top: [],
    },
  };
}
