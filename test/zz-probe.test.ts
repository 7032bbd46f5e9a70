import { it } from "vitest";
import { createEngineSync } from "../ts/node.js";

it("probe", () => {
  for (const tz of ["UTC","America/New_York","Europe/London","Australia/Lord_Howe","Asia/Kolkata","Asia/Kathmandu","America/Havana","Pacific/Chatham","America/St_Johns","America/Santiago","Europe/Dublin","Pacific/Apia","Antarctica/Troll","Australia/Adelaide"]) {
    const config = { time: { timezone: tz, storeHourly: true, eventTimeField: "ts" } };
    const w = createEngineSync({ config, engine: "wasm" });
    const t = createEngineSync({ config, engine: "ts" });
    const lines: string[] = [];
    for (let s = Date.UTC(1800, 0, 1) / 1000; s < Date.UTC(2100, 0, 1) / 1000; s += 86400 * 1 + 3600 * 1 + 60 * 17) lines.push(`{"event":"e","ts":${s}}`);
    const a = w.processLines(lines.join("\n"), 0).split("+2\n");
    const b = t.processLines(lines.join("\n"), 0).split("+2\n");
    let n = 0, first = "", last = "";
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { n++; const l = lines[i - 1]; if (!first) first = l + " " + JSON.stringify(a[i]) + " " + JSON.stringify(b[i]); last = l; }
    const y = (l: string) => l && new Date(Number(l.match(/ts":(-?\d+)/)![1]) * 1000).toISOString();
    console.log(tz, lines.length, "differ:", n, "first", y(first), first, "last", y(last));
  }
});
