#!/usr/bin/env bash
# The main job: the 3,000,000 real flights of vega-datasets ingested with
# examples/flights.json into the embedded memory store (a fresh
# data/flights-store.jsonl.gz), or into the Redis that REDIS_URL names,
# then the first things a user would ask of them, through `traqq query`.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '[main] %s\n' "$*" >&2; }
started=$(date +%s)

# Setup talks on stderr: stdout holds the answers alone.
bash scripts/setup.sh >&2

# Writes data/flights.ndjson from the parquet file unless it is there.
node dist/scripts/flights.js >&2

input=data/flights.ndjson
config=examples/flights.json
traqq() { node bin/traqq.js "$@"; }

if [ -n "${REDIS_URL:-}" ]; then
  store=(--redis "$REDIS_URL")
  # Everything below reads REDIS_URL through --redis; none must fall
  # back to it unasked.
  unset REDIS_URL
  where="Redis at the REDIS_URL"
else
  file=data/flights-store.jsonl.gz
  store=(--store "$file")
  where=$file
fi
# The first half of 2001, and the six flights the data stamps at
# midnight starting 2001-07-01.
range=(--from 2001-01-01 --to 2001-07-01)

# How many flights the store holds already (0 when it is empty).
held() {
  traqq query --config "$config" "${store[@]}" --metric add \
    --pattern event "${range[@]}" --by total --json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      const t=JSON.parse(s).totals; console.log(t.length ? t[0][1] : 0)})'
}

if [ "${store[0]}" = --store ]; then
  # A fresh file each run, or a rerun would count every flight twice.
  rm -f "$file"
  say "traqq ingest $input --config $config --store $file"
  traqq ingest "$input" --config "$config" "${store[@]}"
else
  lines=$(wc -l <"$input")
  have=$(held)
  if [ "$have" = "$lines" ]; then
    say "Redis already holds all $have flights: not ingesting them again"
  else
    # A fixed run id names the batches: a rerun after an interrupted one
    # skips the batches that landed (their markers live 7 days), so
    # nothing counts twice.
    say "traqq ingest $input --config $config --redis \$REDIS_URL"
    traqq ingest "$input" --config "$config" "${store[@]}" \
      --run-id flights-main --batch 16384
  fi
fi

ask() {
  echo
  traqq query --config "$config" "${store[@]}" "${range[@]}" --by total "$@"
}
say "first questions, answered from $where:"
ask --metric add --pattern origin --top 10
ask --metric add --pattern destination~origin --top 10
ask --metric adv --pattern origin --add-key delay --top 10
ask --metric bmp --pattern destination~origin
echo
say "done in $(($(date +%s) - started)) s"
