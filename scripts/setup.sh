#!/usr/bin/env bash
# Installs whatever a fresh clone lacks, then builds: npm packages,
# redis-server (from Debian, as root), the wasm32 Rust toolchain and the
# build itself (scripts/build.sh runs scripts/setup-toolchain.sh first).
# Both README commands start here; when all is in place it takes seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root for: $*"
    return 1
  fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "Node.js 20+ and npm are needed; install them and run again"
  exit 1
fi

# npm leaves node_modules/.package-lock.json behind after every install;
# it being older than the lock (or package.json) means the tree is stale.
marker=node_modules/.package-lock.json
if [ -f package-lock.json ]; then
  if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ]; then
    say "npm ci (node_modules missing or older than package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error >&2
    touch "$marker"
  elif [ package.json -nt "$marker" ]; then
    say "npm install (package.json changed)"
    npm install --no-audit --no-fund --loglevel=error >&2
    touch "$marker"
  else
    say "npm packages: up to date"
  fi
elif [ ! -f "$marker" ] || [ package.json -nt "$marker" ]; then
  say "npm install (no package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error >&2
  touch "$marker"
else
  say "npm packages: up to date"
fi

if command -v redis-server >/dev/null 2>&1; then
  say "redis-server: $(redis-server --version | awk '{print $3}')"
else
  say "installing redis-server from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq redis-server >/dev/null
fi

# Debian's Chromium is the real browser the dashboard test drives.
if [ -x /usr/bin/chromium ]; then
  say "chromium: installed"
else
  say "installing chromium from Debian (for test/browser.test.ts)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq chromium >/dev/null
fi

bash scripts/build.sh
