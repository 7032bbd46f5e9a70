import fc from "fast-check";
import { it } from "vitest";
import { createEngineSync } from "../ts/node.js";
import { decodeBatch } from "../ts/batch.js";
import { namesOf, configArb, lineArb, eventText, nowMs, malformedLine } from "./arbitraries.js";

function stats(name: string, cfg: fc.Arbitrary<any>, lines: fc.Arbitrary<string[]>, n: number) {
  const reasons = new Map<string, number>();
  let acc = 0, cmds = 0, blank = 0, withCmds = 0, total = 0;
  const samples = fc.sample(fc.tuple(cfg, lines, nowMs), n);
  for (const [c, ls, now] of samples) {
    const e = createEngineSync({ config: c, engine: "ts" });
    const raw = e.processLines(ls.join("\n"), now);
    for (const r of decodeBatch(raw)) {
      total++;
      if (r.kind === "accepted") { acc++; cmds += r.commands.length; if (r.commands.length) withCmds++; }
      else if (r.kind === "blank") blank++;
      else { const k = r.error.replace(/"[^]*"$/, '"…"').replace(/\d+/g, "N"); reasons.set(k, (reasons.get(k) ?? 0) + 1); }
    }
  }
  console.log(name, { total, acc, withCmds, cmds, blank }, [...reasons].sort((a, b) => b[1] - a[1]));
}

function stats2(name: string, cfg: fc.Arbitrary<any>, lines: (o: any) => fc.Arbitrary<string[]>, n: number) {
  const pairs = fc.sample(cfg.chain((c) => fc.tuple(fc.constant(c), lines({ names: namesOf(c) }))), n);
  let i = 0;
  stats(name, fc.constant(null).map(() => pairs[i]![0]), fc.constant(null).map(() => pairs[i++]![1]), n);
}
it("stats", () => {
  stats2("general", configArb(), (o) => fc.array(lineArb(o), { minLength: 1, maxLength: 24 }), 300);
  stats2("time", configArb({ timeFocus: true }), (o) => fc.array(eventText({ ...o, timeFocus: true }), { minLength: 1, maxLength: 24 }), 300);
  stats("malformed", configArb(), fc.array(malformedLine(), { minLength: 1, maxLength: 24 }), 300);
  console.log(fc.sample(eventText(), 8).join("\n"));
  console.log(fc.sample(eventText({timeFocus: true}), 8).join("\n"));
  console.log(JSON.stringify(fc.sample(configArb(), 4)));
});
