/**
 * The dashboard in Debian's Chromium, driven by playwright-core: a live
 * server with known events, a query run through the form, the numbers in
 * the charts and the table checked against the input, a screenshot, and
 * the playground's commands compared with `traqq process` for the same
 * config, events and clock.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  openMemoryStore,
  resolveConfig,
  type ConfigInput,
} from "../ts/node.js";
import { startServer, type RunningServer } from "../ts/server.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `browser tests skipped: no ${CHROMIUM}; install Debian's chromium (apt-get install -y chromium)`,
  );
}

const DAY = Date.UTC(2024, 2, 1) / 1000; // 2024-03-01, UTC
const DAYS = 7;

const CONFIG: ConfigInput = {
  time: { timezone: "UTC", eventTimeField: "ts" },
  mapping: {
    bitmap: ["user"],
    add: ["event", "page"],
    addValue: [{ key: "page", addKey: "amount" }],
    top: ["page"],
  },
};

interface Ev {
  event: string;
  page: string;
  user: string;
  amount: number;
  ts: number;
}

/** A week of events; pages are skewed so the top three are clear. */
function makeEvents(n: number): Ev[] {
  let s = 5;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pages = [
    "/",
    "/",
    "/",
    "/",
    "/pricing",
    "/pricing",
    "/pricing",
    "/docs",
    "/docs",
    "/blog",
    "/about",
  ];
  return Array.from({ length: n }, () => ({
    event: rnd() < 0.8 ? "view" : "signup",
    page: pages[Math.floor(rnd() * pages.length)]!,
    user: `u${Math.floor(rnd() * 40)}`,
    amount: [1, 2, 0.5][Math.floor(rnd() * 3)]!,
    ts: DAY + Math.floor(rnd() * DAYS * 86400),
  }));
}

const dayOf = (ts: number) =>
  new Date(Math.floor(ts / 86400) * 86400_000).toISOString().slice(0, 10);

describe.skipIf(!haveChromium)("the dashboard in Chromium", () => {
  const events = makeEvents(2000);
  const work = mkdtempSync(join(tmpdir(), "traqq-browser-"));
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The page under test is the bundle; make sure it matches web/.
    const built = spawnSync("bash", ["scripts/build-web.sh"], {
      encoding: "utf8",
    });
    if (built.status !== 0)
      throw new Error(`scripts/build-web.sh failed:\n${built.stderr}`);

    server = await startServer({
      config: resolveConfig(CONFIG),
      store: await openMemoryStore(),
      layout: "flat",
      engine: "wasm",
      host: "127.0.0.1",
      port: 0,
    });
    const res = await fetch(`${server.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: events.map((e) => JSON.stringify(e)).join("\n"),
    });
    expect(await res.json()).toMatchObject({
      accepted: events.length,
      rejected: 0,
    });

    context = await chromium.launchPersistentContext(join(work, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(server.url);
    // The metric list is filled once /config has answered.
    await page.waitForSelector('#metric option[value="add"]', {
      state: "attached",
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function runQuery(form: Record<string, string>): Promise<void> {
    await page.selectOption("#metric", form.metric!);
    await page.selectOption("#pattern", form.pattern!);
    if (form.addKey) await page.selectOption("#addKey", form.addKey);
    await page.selectOption("#range", "custom");
    await page.fill("#from", form.from!);
    await page.fill("#to", form.to!);
    await page.selectOption("#by", form.by!);
    await page.fill("#top", form.top ?? "10");
    await page.click("#run");
    await page.waitForFunction(
      ([metric, pattern, by]) => {
        // The answer of the query just sent, not of one sent before it.
        if (document.getElementById("run")!.hasAttribute("aria-busy"))
          return false;
        const r = (window as any).traqqDashboard.result;
        return r && r.metric === metric && r.pattern === pattern && r.by === by;
      },
      [form.metric, form.pattern, form.by],
    );
  }

  /** The table as drawn: header names, then per row the label and exact numbers. */
  async function readTable() {
    return page.$eval("#result-table", (t) => ({
      head: [...t.querySelectorAll("thead th")].map((c) => c.textContent),
      rows: [...t.querySelectorAll("tbody tr, tfoot tr")].map((r) => [
        r.children[0]!.textContent,
        ...[...r.querySelectorAll("td[data-value]")].map((c) =>
          Number((c as HTMLElement).dataset.value),
        ),
      ]),
    }));
  }

  /** What each chart was given to draw. */
  async function readCharts() {
    return page.evaluate(() => {
      const d = (window as any).traqqDashboard;
      const pick = (c: any) => ({
        labels: c.data.labels,
        datasets: c.data.datasets.map((s: any) => ({
          label: s.label,
          data: s.data,
        })),
      });
      return { line: pick(d.lineChart), bar: pick(d.barChart) };
    });
  }

  it("opens on the answer of the form's default query", async () => {
    // No click: the page asks for the first metric's first pattern.
    await page.waitForFunction(() => (window as any).traqqDashboard.result);
    const r = await page.evaluate(() => (window as any).traqqDashboard.result);
    expect([r.metric, r.pattern]).toEqual([
      await page.inputValue("#metric"),
      await page.inputValue("#pattern"),
    ]);
    expect(await page.textContent("#summary")).toContain(`${r.pattern} ·`);
  });

  it("draws the top pages per day as posted", async () => {
    await runQuery({
      metric: "top",
      pattern: "page",
      from: "2024-03-01",
      to: "2024-03-07",
      by: "day",
      top: "3",
    });

    const totals = new Map<string, number>();
    for (const e of events) totals.set(e.page, (totals.get(e.page) ?? 0) + 1);
    const top3 = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 3);
    const days = Array.from({ length: DAYS }, (_, i) => dayOf(DAY + i * 86400));
    const perDay = (day: string, p: string) =>
      events.filter((e) => dayOf(e.ts) === day && e.page === p).length;

    const table = await readTable();
    expect(table.head).toEqual(["bucket", ...top3.map(([p]) => p)]);
    expect(table.rows).toEqual([
      ...days.map((d) => [d, ...top3.map(([p]) => perDay(d, p))]),
      ["total", ...top3.map(([, n]) => n)],
    ]);

    const charts = await readCharts();
    expect(charts.line.labels).toEqual(days);
    expect(charts.line.datasets).toEqual(
      top3.map(([p]) => ({ label: p, data: days.map((d) => perDay(d, p)) })),
    );
    expect(charts.bar.labels).toEqual(top3.map(([p]) => p));
    expect(charts.bar.datasets[0].data).toEqual(top3.map(([, n]) => n));
    // The canvases really were painted, not left blank.
    const painted = await page.$eval(
      "#line-chart",
      (c) => (c as HTMLCanvasElement).toDataURL().length,
    );
    expect(painted).toBeGreaterThan(5000);
  });

  it("draws sums and unique counts, the range's uniques as a union", async () => {
    await runQuery({
      metric: "adv",
      pattern: "page",
      addKey: "amount",
      from: "2024-03-02",
      to: "2024-03-03",
      by: "total",
    });
    const sums = new Map<string, number>();
    for (const e of events.filter((e) =>
      ["2024-03-02", "2024-03-03"].includes(dayOf(e.ts)),
    )) {
      sums.set(e.page, (sums.get(e.page) ?? 0) + e.amount);
    }
    const table = await readTable();
    const want = [...sums].sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1),
    );
    expect(table.head).toEqual(["bucket", ...want.map(([p]) => p)]);
    expect(table.rows.at(-1)).toEqual(["total", ...want.map(([, n]) => n)]);

    await runQuery({
      metric: "bmp",
      pattern: "user",
      from: "2024-03-01",
      to: "2024-03-07",
      by: "day",
    });
    const days = Array.from({ length: DAYS }, (_, i) => dayOf(DAY + i * 86400));
    const uniques = days.map(
      (d) =>
        new Set(events.filter((e) => dayOf(e.ts) === d).map((e) => e.user))
          .size,
    );
    const all = new Set(events.map((e) => e.user)).size;
    const bmp = await readTable();
    // 40 users at most: HyperLogLog counts this few exactly.
    expect(bmp.rows).toEqual([
      ...days.map((d, i) => [d, uniques[i]]),
      ["range (union)", all],
    ]);
    expect(all).toBeLessThan(uniques.reduce((a, b) => a + b, 0));
    const charts = await readCharts();
    expect(charts.line.datasets).toEqual([{ label: "unique", data: uniques }]);
    expect(charts.bar.datasets[0].data).toEqual([all]);
  });

  it("gives the same commands in the playground as traqq process", async () => {
    const config = {
      prefix: "demo",
      time: { timezone: "America/New_York", storeHourly: true },
      mapping: {
        bitmap: ["ip"],
        add: ["event", "utm_source~event"],
        addValue: [{ key: "event", addKey: "amount" }],
        top: ["city"],
      },
    };
    const ndjson = [
      '{"event":"purchase","amount":99.99,"ip":"127.0.0.1","utm_source":"google","city":"New York"}',
      '{"event":"signup","id":2868860079149422351,"utm_source":"say \\"hi\\"","city":"Zürich"}',
      '{"name":"no event"}',
      "",
      '{"event":"view","amount":"1e3","city":"tab\\there"}',
      "{oops",
    ].join("\n");
    const now = 1730611800; // 01:30 EDT on the fall-back night
    const configFile = join(work, "config.json");
    const eventsFile = join(work, "events.ndjson");
    writeFileSync(configFile, JSON.stringify(config));
    writeFileSync(eventsFile, ndjson + "\n");
    const cli = spawnSync(
      "node",
      [
        "bin/traqq.js",
        "process",
        eventsFile,
        "--config",
        configFile,
        "--now",
        String(now),
      ],
      {
        encoding: "utf8",
      },
    );
    expect(cli.status, cli.stderr).toBe(0);
    const cliRejections =
      cli.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .join("\n") + "\n";
    expect(cli.stdout.split("\n").length).toBeGreaterThan(10);

    await page.fill("#pg-config", JSON.stringify(config, null, 2));
    await page.fill("#pg-events", ndjson);
    await page.fill("#pg-now", String(now));
    await page.selectOption("#pg-engine", "wasm");
    await page.click("#pg-run");
    await page
      .waitForFunction(
        (want) => document.getElementById("pg-commands")!.textContent === want,
        cli.stdout,
        { timeout: 10_000 },
      )
      .catch(() => {});
    expect(await page.textContent("#pg-commands")).toBe(cli.stdout);
    expect(await page.textContent("#pg-rejections")).toBe(cliRejections);
    expect(await page.textContent("#pg-status")).toMatch(
      /^5 events, 3 accepted, 2 rejected, \d+ commands \(wasm engine\)$/,
    );

    // A config error is shown with the field it is about, not thrown.
    await page.fill("#pg-config", '{"mapping":{"add":["event~~geo"]}}');
    await page.click("#pg-run");
    await page.waitForSelector("#pg-error:not([hidden])");
    expect(await page.textContent("#pg-error")).toBe(
      'mapping.add[0]: pattern "event~~geo" has an empty part',
    );

    // Put the working config back for the screenshot.
    await page.fill("#pg-config", JSON.stringify(config, null, 2));
    await page.click("#pg-run");
    await page.waitForSelector("#pg-error", { state: "hidden" });
  });

  it("asks for the bearer token, then runs the query in the URL", async () => {
    const guarded = await startServer({
      config: resolveConfig(CONFIG),
      store: await openMemoryStore(),
      layout: "hash",
      engine: "ts",
      host: "127.0.0.1",
      port: 0,
      token: "letmein",
    });
    const p = await context.newPage();
    try {
      const body = ["view", "view", "signup", "view"].map((event) => ({
        event,
        ts: DAY + 60,
      }));
      const posted = await fetch(`${guarded.url}/events`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer letmein",
        },
        body: JSON.stringify(body),
      });
      expect(await posted.json()).toMatchObject({ accepted: 4 });

      await p.goto(
        `${guarded.url}/#metric=add&pattern=event&from=2024-03-01&to=2024-03-01&by=total`,
      );
      await p.waitForSelector("#token-form:not([hidden])");
      expect(await p.textContent("#error")).toMatch(/Bearer <token>/);
      expect(await p.textContent("#server-info")).toBe(
        "store: memory · layout: hash · engine: ts",
      );
      await p.fill("#token", "letmein");
      await p.click("#token-form button");
      await p.waitForFunction(
        () => (window as any).traqqDashboard.result?.pattern === "event",
      );
      expect(await p.isHidden("#token-form")).toBe(true);
      expect(await p.isHidden("#error")).toBe(true);
      expect(
        await p.$$eval("#result-table tr", (rows) =>
          rows.map((r) => r.textContent),
        ),
      ).toEqual(["bucketviewsignup", "total31"]);
    } finally {
      await p.close();
      await guarded.close();
    }
  });

  it("says so when a shared view asks for hours the config does not keep", async () => {
    const p = await context.newPage();
    try {
      await p.goto(
        `${server.url}/#metric=add&pattern=event&from=2024-03-01&to=2024-03-02&by=hour`,
      );
      await p.waitForFunction(
        () => (window as any).traqqDashboard.result?.by === "day",
      );
      expect(await p.textContent("#summary")).toContain(
        "hour buckets need time.storeHourly in the config: showing days",
      );
      // Said once: the next answer stands alone.
      await p.click("#run");
      await p.waitForFunction(
        () => !document.getElementById("run")!.hasAttribute("aria-busy"),
      );
      expect(await p.textContent("#summary")).not.toContain("storeHourly");
    } finally {
      await p.close();
    }
  });

  it("leaves a screenshot and logs no errors", async () => {
    await runQuery({
      metric: "top",
      pattern: "page",
      from: "2024-03-01",
      to: "2024-03-07",
      by: "day",
      top: "3",
    });
    const file = join(work, "dashboard.png");
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(20_000);
    // For people to look at after the run.
    copyFileSync(file, "/tmp/traqq-dashboard.png");
    expect(pageErrors).toEqual([]);
  });
});
