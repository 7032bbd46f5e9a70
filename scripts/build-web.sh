#!/usr/bin/env bash
# Builds the dashboard that `traqq serve` serves into dist/web: type-checks
# web/*.ts, bundles web/dashboard.ts with Chart.js and traqq's browser
# entry (dist/ts/browser.js, so this runs after tsc) using esbuild, and
# copies the page and its stylesheet. The .wasm is not copied: the server
# serves it from pkg/web (dist/pkg/web once compiled).
#
# Skipped when dist/web is newer than everything it is made from.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '[build-web] %s\n' "$*" >&2; }

out=dist/web
stamp=$out/.stamp
inputs=(web dist/ts dist/pkg/web package-lock.json scripts/build-web.sh)

if [ ! -e dist/ts/browser.js ] || [ ! -e dist/pkg/web/traqq.js ]; then
  say "dist/ts/browser.js or dist/pkg/web is missing: run scripts/build.sh first"
  exit 1
fi
if [ -e "$stamp" ] && [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]; then
  say "dashboard: $out is up to date"
  exit 0
fi

say "tsc -p web (type-check the dashboard)"
node_modules/.bin/tsc -p web

# Built beside, then swapped in, so a running server never sees half a build.
say "esbuild web/dashboard.ts (into $out)"
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
node_modules/.bin/esbuild web/dashboard.ts --bundle --format=esm \
  --target=es2022 --minify --sourcemap --log-level=warning \
  --outfile="$tmp/dashboard.js"
cp web/index.html web/style.css "$tmp/"
touch "$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"
say "$out/dashboard.js: $(wc -c <"$out/dashboard.js") bytes, $(gzip -9c "$out/dashboard.js" | wc -c) gzip -9"
