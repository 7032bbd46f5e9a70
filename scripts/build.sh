#!/usr/bin/env bash
# Builds traqq: the Rust core to WebAssembly (one `web`-target build that
# Node loads with initSync and browsers load with fetch), an optimised
# release pass of wasm-opt over it, then the TypeScript into dist/.
#
# Each step is skipped when its output is newer than its inputs, so a
# second run takes a second or two. Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '[build] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

# Is any of the given files or folders newer than $1 (or is $1 missing)?
stale() {
  local out=$1
  shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -print -quit 2>/dev/null)" ]
}

bash scripts/setup-toolchain.sh
RUSTUP_TOOLCHAIN=$(cat .toolchain)
export RUSTUP_TOOLCHAIN

# The glue file marks the wasm-pack step: the .wasm beside it is later
# rewritten by wasm-opt, so its time says nothing about the sources.
web=pkg/web
crate_inputs=(crate/src crate/Cargo.toml crate/Cargo.lock)
[ -e crate/build.rs ] && crate_inputs+=(crate/build.rs)
# setup-toolchain.sh rewrites .toolchain on every run, so the name it
# holds is compared instead of its time.
built_with=$(cat "$web/.toolchain" 2>/dev/null || true)
if stale "$web/traqq.js" "${crate_inputs[@]}" ||
  [ ! -e "$web/traqq_bg.wasm" ] || [ "$built_with" != "$RUSTUP_TOOLCHAIN" ]; then
  say "wasm-pack build crate (release, target web, toolchain $RUSTUP_TOOLCHAIN)"
  wasm-pack build crate --release --target web \
    --out-dir ../pkg/web --out-name traqq
  # wasm-pack drops a `*` .gitignore here; pkg/ is ignored at the root
  # already, and a nested one would hide these files from `npm pack`.
  rm -f "$web/.gitignore"
  echo "$RUSTUP_TOOLCHAIN" >"$web/.toolchain"
  touch "$web/traqq.js"
else
  say "wasm-pack: $web is up to date"
fi

# rustc's wasm32 output uses these post-MVP features; wasm-opt rejects
# a module that uses a feature it was not told about.
features=(
  --enable-bulk-memory
  --enable-nontrapping-float-to-int
  --enable-sign-ext
  --enable-mutable-globals
  --enable-reference-types
  --enable-multivalue
)
wasm=$web/traqq_bg.wasm
stamp=$web/.wasm-opt.stamp
if stale "$stamp" "$wasm"; then
  say "wasm-opt -O3 $wasm"
  node_modules/.bin/wasm-opt -O3 "${features[@]}" "$wasm" -o "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
  touch "$stamp"
else
  say "wasm-opt: $wasm is already optimised"
fi

# Only .ts files count: editing a shell script must not rerun tsc.
ts_changed() {
  [ -e dist/.tsc.stamp ] || return 0
  [ -n "$(find ts bench scripts -name '*.ts' -newer dist/.tsc.stamp \
    -print -quit 2>/dev/null)" ] ||
    stale dist/.tsc.stamp tsconfig.json package.json "$web/traqq.d.ts"
}
if ts_changed; then
  say "tsc -p . (into dist/)"
  node_modules/.bin/tsc -p .
  touch dist/.tsc.stamp
else
  say "tsc: dist/ is up to date"
fi

# dist/ts/*.js import ../pkg/web/ just as ts/*.ts do, so the wasm
# package is mirrored at dist/pkg/web.
if stale dist/pkg/web/traqq_bg.wasm "$wasm" "$web/traqq.js"; then
  say "copying $web to dist/pkg/web"
  mkdir -p dist/pkg/web
  cp -p "$web"/* dist/pkg/web/
fi

raw=$(wc -c <"$wasm")
gz=$(gzip -9c "$wasm" | wc -c)
say "$wasm: $raw bytes raw, $gz bytes gzip -9"
bash scripts/build-web.sh
