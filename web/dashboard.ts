/**
 * The dashboard served by `traqq serve`: a query form over the server's
 * `GET /query`, a line chart over time and a top-N bar chart (Chart.js),
 * a table of the same numbers, and a config playground that runs the
 * traqq engine in the page. Bundled by scripts/build-web.sh.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

import {
  createEngine,
  decodeBatch,
  formatText,
  type Config,
  type Engine,
  type EngineName,
  type QueryResult,
} from "../dist/ts/browser.js";
import { plural } from "../dist/ts/words.js";

// Only what the two charts draw, so the bundle stays small.
Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Legend,
  Tooltip,
);

const PALETTE = [
  "#2563eb",
  "#db2777",
  "#16a34a",
  "#ea580c",
  "#7c3aed",
  "#0891b2",
  "#ca8a04",
  "#dc2626",
  "#4b5563",
  "#65a30d",
];

const METRIC_LABELS: Record<string, string> = {
  add: "counts (add)",
  adv: "sums (adv)",
  top: "rankings (top)",
  bmp: "uniques (bmp)",
};

const EXAMPLE_CONFIG = {
  mapping: {
    bitmap: ["ip"],
    add: ["event", "event~utm_source"],
    addValue: [{ key: "event", addKey: "amount" }],
  },
};
const EXAMPLE_EVENT =
  '{"event":"purchase","amount":99.99,"ip":"127.0.0.1","utm_source":"google"}';

/** What the page exposes for tests and the browser console. */
interface DashboardHandle {
  lineChart?: Chart;
  barChart?: Chart;
  result?: QueryResult;
}
const handle: DashboardHandle = {};
(window as unknown as { traqqDashboard: DashboardHandle }).traqqDashboard =
  handle;

const $ = <T extends HTMLElement>(id: string) =>
  document.getElementById(id) as T;

let token = sessionStorage.getItem("traqq-token") ?? "";
let config: Config | undefined;

/** A GET against the server; errors carry the server's own message. */
async function api<T>(path: string): Promise<T> {
  const headers: Record<string, string> = token
    ? { authorization: `Bearer ${token}` }
    : {};
  const res = await fetch(path, { headers });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401) $("token-form").hidden = false;
  if (!res.ok) throw new Error(body.error ?? `${path}: HTTP ${res.status}`);
  return body as T;
}

function showError(message: string | undefined): void {
  const el = $("error");
  el.hidden = !message;
  el.textContent = message ?? "";
}

// --- the query form -------------------------------------------------------

/** Patterns of the config for a metric; `adv` patterns come with their addKeys. */
function patternsOf(metric: string): string[] {
  if (!config) return [];
  const m = config.mapping;
  if (metric === "adv") return [...new Set(m.addValue.map((a) => a.key))];
  return metric === "bmp" ? m.bitmap : metric === "top" ? m.top : m.add;
}

function fillSelect(
  select: HTMLSelectElement,
  values: string[],
  labels?: Record<string, string>,
) {
  const keep = select.value;
  select.replaceChildren(
    ...values.map((v) => new Option(labels?.[v] ?? v, v, false, v === keep)),
  );
}

function updateForm(): void {
  const metric = $<HTMLSelectElement>("metric").value;
  fillSelect($("pattern"), patternsOf(metric));
  const isAdv = metric === "adv";
  $("addkey-label").hidden = !isAdv;
  if (isAdv && config) {
    const key = $<HTMLSelectElement>("pattern").value;
    fillSelect(
      $("addKey"),
      config.mapping.addValue.filter((a) => a.key === key).map((a) => a.addKey),
    );
  }
  const custom = $<HTMLSelectElement>("range").value === "custom";
  for (const el of document.querySelectorAll<HTMLElement>(".custom"))
    el.hidden = !custom;
  const hourly = config?.time.storeHourly ?? false;
  const hour = $<HTMLSelectElement>("by").querySelector<HTMLOptionElement>(
    'option[value="hour"]',
  )!;
  hour.disabled = !hourly;
  if (!hourly && $<HTMLSelectElement>("by").value === "hour")
    $<HTMLSelectElement>("by").value = "day";
}

/** The form as query parameters; also kept in the URL's hash. */
function formParams(): URLSearchParams {
  const p = new URLSearchParams();
  const v = (id: string) => $<HTMLInputElement>(id).value.trim();
  p.set("metric", v("metric"));
  p.set("pattern", v("pattern"));
  if (v("metric") === "adv") p.set("addKey", v("addKey"));
  if (v("range") === "custom") {
    p.set("from", v("from"));
    p.set("to", v("to"));
  } else p.set("range", v("range"));
  p.set("by", v("by"));
  // A unique count has no values to rank or pick; the server refuses them.
  if (v("metric") !== "bmp") {
    if (v("top")) p.set("top", v("top"));
    if (v("values")) p.set("values", v("values"));
    if (v("prefix")) p.set("prefix", v("prefix"));
  }
  return p;
}

/** Said once with the next answer: what the form changed of a shared view. */
let formNote = "";

/** Puts a saved query (from the hash) back into the form. */
function restoreForm(p: URLSearchParams): void {
  const set = (id: string, value: string | null) => {
    if (value !== null) $<HTMLInputElement>(id).value = value;
  };
  set("metric", p.get("metric"));
  updateForm();
  set("pattern", p.get("pattern"));
  updateForm();
  set("addKey", p.get("addKey"));
  if (p.has("from")) {
    set("range", "custom");
    set("from", p.get("from"));
    set("to", p.get("to"));
  } else set("range", p.get("range"));
  set("by", p.get("by"));
  set("top", p.get("top"));
  set("values", p.get("values"));
  set("prefix", p.get("prefix"));
  updateForm();
  if (p.get("by") === "hour" && $<HTMLSelectElement>("by").value !== "hour")
    formNote = "hour buckets need time.storeHourly in the config: showing days";
}

/** Counts queries sent, so that only the latest one's answer is drawn. */
let querySeq = 0;

async function runQuery(): Promise<void> {
  const params = formParams();
  history.replaceState(null, "", `#${params}`);
  const seq = ++querySeq;
  $("run").setAttribute("aria-busy", "true");
  try {
    const result = await api<QueryResult>(`query?${params}`);
    if (seq !== querySeq) return;
    showError(undefined);
    render(result);
  } catch (e) {
    if (seq === querySeq) showError((e as Error).message);
  } finally {
    if (seq === querySeq) $("run").removeAttribute("aria-busy");
  }
}

// --- the results ----------------------------------------------------------

const numberFormat = new Intl.NumberFormat("en-US", {
  maximumFractionDigits: 6,
});

/** Series to draw: per value (largest first), or the unique count for `bmp`. */
function seriesOf(result: QueryResult): { name: string; key: string }[] {
  if (result.metric === "bmp") return [{ name: "unique", key: "" }];
  return result.totals.map(([v]) => ({ name: v, key: v }));
}

function render(result: QueryResult): void {
  handle.result = result;
  const series = seriesOf(result);
  const labels = result.buckets.map((b) => b.label);
  const range = `${localTime(result.from)} → ${localTime(result.to)} (${config?.time.timezone ?? "UTC"})`;
  $("summary").textContent =
    `${result.metric} · ${result.pattern} · ${range} · by ${result.by} · ` +
    `${plural(result.buckets.length, "bucket")} · ${result.metric === "bmp" ? "unique count" : plural(series.length, "value")}` +
    (series.length === 0 ? " · nothing stored in this range" : "") +
    (formNote ? ` · ${formNote}` : "");
  formNote = "";

  handle.lineChart?.destroy();
  handle.lineChart = new Chart($<HTMLCanvasElement>("line-chart"), {
    type: "line",
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.name,
        data: result.buckets.map((b) => b.values[s.key] ?? 0),
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        tension: 0,
      })),
    },
    options: chartOptions(series.length > 1),
  });

  const bars =
    result.metric === "bmp"
      ? [["unique (union of the range)", result.totals[0]?.[1] ?? 0] as const]
      : result.totals;
  $("bar-title").textContent =
    result.metric === "bmp" ? "Unique over the range" : "Top values";
  handle.barChart?.destroy();
  handle.barChart = new Chart($<HTMLCanvasElement>("bar-chart"), {
    type: "bar",
    data: {
      labels: bars.map(([v]) => v),
      datasets: [
        {
          label:
            result.metric === "adv"
              ? "sum"
              : result.metric === "bmp"
                ? "unique"
                : "count",
          data: bars.map(([, n]) => n),
          backgroundColor: bars.map((_, i) => PALETTE[i % PALETTE.length]!),
        },
      ],
    },
    options: { ...chartOptions(false), indexAxis: "y" },
  });

  renderTable(result, series);
}

/** `2024-03-01 00:00` in the config's zone. */
function localTime(unix: number): string {
  const f = new Intl.DateTimeFormat("en-CA", {
    timeZone: config?.time.timezone ?? "UTC",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const p = Object.fromEntries(
    f.formatToParts(new Date(unix * 1000)).map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

function chartOptions(legend: boolean) {
  return {
    // Still charts: nothing moves after a query, screenshots are stable.
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { display: legend, position: "bottom" as const } },
    scales: { y: { beginAtZero: true } },
  };
}

function renderTable(
  result: QueryResult,
  series: { name: string; key: string }[],
): void {
  const table = $<HTMLTableElement>("result-table");
  const cell = (tag: "td" | "th", text: string, value?: number) => {
    const el = document.createElement(tag);
    el.textContent = text;
    // The exact number, for copying and for tests; the text is rounded.
    if (value !== undefined) el.dataset.value = String(value);
    return el;
  };
  const head = document.createElement("tr");
  head.append(cell("th", "bucket"), ...series.map((s) => cell("th", s.name)));
  const rows = result.buckets.map((b) => {
    const tr = document.createElement("tr");
    tr.append(
      cell("td", b.label),
      ...series.map((s) => {
        const n = b.values[s.key] ?? 0;
        return cell("td", numberFormat.format(n), n);
      }),
    );
    return tr;
  });
  const total = document.createElement("tr");
  const totals = new Map(result.totals);
  total.append(
    cell("td", result.metric === "bmp" ? "range (union)" : "total"),
    ...series.map((s) => {
      const n = totals.get(s.key) ?? 0;
      return cell("td", numberFormat.format(n), n);
    }),
  );
  // With `by=total` the one bucket is the total already.
  const foot = result.by === "total" ? [] : [total];
  table.replaceChildren(
    wrap("thead", [head]),
    wrap("tbody", rows),
    wrap("tfoot", foot),
  );
}

function wrap(
  tag: "thead" | "tbody" | "tfoot",
  rows: HTMLElement[],
): HTMLElement {
  const el = document.createElement(tag);
  el.append(...rows);
  return el;
}

// --- the playground ---------------------------------------------------------

let engine: { key: string; engine: Engine } | undefined;

/** The engine for the current config text and engine choice, built once per change. */
async function playgroundEngine(
  configText: string,
  name: EngineName,
): Promise<Engine> {
  const key = `${name}\n${configText}`;
  if (engine?.key === key) return engine.engine;
  let input: unknown;
  try {
    input = JSON.parse(configText);
  } catch (e) {
    throw new Error(`config is not valid JSON: ${(e as Error).message}`);
  }
  const built = await createEngine({
    config: input as Config,
    engine: name,
    wasmUrl: new URL("wasm/traqq_bg.wasm", document.baseURI),
  });
  engine?.engine.free();
  engine = { key, engine: built };
  return built;
}

/** Runs the events through the engine as `traqq process` would, same output. */
async function runPlayground(): Promise<void> {
  const errorEl = $("pg-error");
  const commandsEl = $("pg-commands");
  const rejectionsEl = $("pg-rejections");
  const nowInput = $<HTMLInputElement>("pg-now");
  const now = Number(nowInput.value);
  try {
    if (nowInput.value.trim() === "" || !Number.isFinite(now)) {
      throw new Error("now: expected unix seconds, e.g. 1696118400");
    }
    const e = await playgroundEngine(
      $<HTMLTextAreaElement>("pg-config").value,
      $<HTMLSelectElement>("pg-engine").value as EngineName,
    );
    const raw = e.processLines(
      $<HTMLTextAreaElement>("pg-events").value,
      now * 1000,
    );
    let commands = "";
    let rejections = "";
    let accepted = 0;
    let rejected = 0;
    let count = 0;
    for (const r of decodeBatch(raw)) {
      if (r.kind === "accepted") {
        accepted++;
        count += r.commands.length;
        for (const c of r.commands) commands += formatText(c) + "\n";
      } else if (r.kind === "rejected") {
        rejected++;
        rejections +=
          JSON.stringify({ line: r.index + 1, error: r.error }) + "\n";
      }
    }
    errorEl.hidden = true;
    commandsEl.textContent = commands;
    rejectionsEl.textContent = rejections;
    rejectionsEl.hidden = rejections === "";
    $("pg-status").textContent =
      `${plural(accepted + rejected, "event")}, ${accepted} accepted, ${rejected} rejected, ${plural(count, "command")} (${e.name} engine)`;
  } catch (err) {
    errorEl.hidden = false;
    errorEl.textContent = (err as Error).message;
    commandsEl.textContent = "";
    rejectionsEl.hidden = true;
    $("pg-status").textContent = "";
  }
}

// --- start ------------------------------------------------------------------

async function start(): Promise<void> {
  $<HTMLInputElement>("pg-now").value = String(Math.floor(Date.now() / 1000));
  $<HTMLTextAreaElement>("pg-events").value = EXAMPLE_EVENT;

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $<HTMLInputElement>("token").value.trim();
    sessionStorage.setItem("traqq-token", token);
    void loadConfig();
  });
  $("query-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void runQuery();
  });
  for (const id of ["metric", "pattern", "range"])
    $(id).addEventListener("change", updateForm);

  let timer: number | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void runPlayground(), 200);
  };
  for (const id of ["pg-config", "pg-events", "pg-now", "pg-engine"])
    $(id).addEventListener("input", soon);
  $("pg-run").addEventListener("click", () => void runPlayground());

  api<{ store: string; layout: string; engine: string }>("health")
    .then(
      (h) =>
        ($("server-info").textContent =
          `store: ${h.store} · layout: ${h.layout} · engine: ${h.engine}`),
    )
    .catch(() => ($("server-info").textContent = "server unreachable"));
  await loadConfig();
}

async function loadConfig(): Promise<void> {
  try {
    config = await api<Config>("config");
    $("token-form").hidden = true;
    showError(undefined);
  } catch (e) {
    showError((e as Error).message);
  }
  const metrics = ["add", "adv", "top", "bmp"].filter(
    (m) => patternsOf(m).length > 0,
  );
  fillSelect($("metric"), metrics, METRIC_LABELS);
  updateForm();
  const pg = $<HTMLTextAreaElement>("pg-config");
  if (pg.value === "")
    pg.value = JSON.stringify(config ?? EXAMPLE_CONFIG, null, 2);
  void runPlayground();
  // The page opens on an answer, the shared view's or the form's default.
  if (config) {
    if (location.hash.length > 1)
      restoreForm(new URLSearchParams(location.hash.slice(1)));
    void runQuery();
  }
}

void start();
