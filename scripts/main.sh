#!/usr/bin/env bash
# The main job: the 3,000,000 real flights of vega-datasets through
# `traqq process` with examples/flights.json, commands into
# data/flights.commands.txt, and a short summary of what came out.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '[main] %s\n' "$*" >&2; }

bash scripts/setup.sh

# Writes data/flights.ndjson from the parquet file unless it is there.
node dist/scripts/flights.js

mkdir -p data
input=data/flights.ndjson
out=data/flights.commands.txt
log=data/flights.stderr.log
say "traqq process $input --config examples/flights.json > $out"
if ! node bin/traqq.js process "$input" --config examples/flights.json \
  >"$out" 2>"$log"; then
  tail -n 5 "$log" >&2
  exit 1
fi

# The CLI's last stderr line is its summary; any lines before it are
# rejections, one JSON object each.
tail -n 1 "$log"
echo "command lines written to $out: $(wc -l <"$out")"
echo "rejections (if any) and the summary: $log"
echo "first commands:"
head -n 8 "$out" | sed 's/^/  /'
