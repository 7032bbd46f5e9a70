#!/usr/bin/env bash
# Gets what building traqq's WebAssembly core needs: a Rust toolchain
# with the wasm32-unknown-unknown target, wasm-pack, and the
# wasm-bindgen CLI at exactly the version crate/Cargo.lock pins.
#
# The normal route is `rustup target add`. Where rustup's download host
# is out of reach, Debian's rustc-web (which can target wasm32) is used
# instead: its standard library is built once for wasm32 from the
# vendored sources Debian ships, and the result is linked into rustup
# as the toolchain "debian". Every step checks first, so a second run
# takes a second or two.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '[setup] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

# Which toolchain the build uses is written here for scripts/build.sh.
state="$here/.toolchain"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

has_wasm_target() {
  # A target is usable when a trivial no_std crate type-checks for it.
  # Never `-o /dev/null`: rustc writes beside its output and renames,
  # which would replace the device with a regular file.
  local tc=$1 out rc=0
  out=$(mktemp -d)
  echo '#![no_std]' | rustc +"$tc" --target wasm32-unknown-unknown \
    --crate-type lib --emit metadata -o "$out/probe.rmeta" - >/dev/null 2>&1 || rc=1
  rm -rf "$out"
  return $rc
}

if ! command -v rustup >/dev/null 2>&1; then
  say "rustup not found; install Rust (https://rustup.rs) and run again"
  exit 1
fi

# TRAQQ_TOOLCHAIN=debian forces the Debian route, to check it on a
# machine where rustup's works.
toolchain=""
if [ "${TRAQQ_TOOLCHAIN:-}" = debian ]; then
  if rustup toolchain list | grep -q '^debian' && has_wasm_target debian; then
    toolchain=debian
  fi
elif has_wasm_target stable; then
  toolchain=stable
elif timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
  && has_wasm_target stable; then
  say "added wasm32-unknown-unknown to rustup's stable toolchain"
  toolchain=stable
elif rustup toolchain list | grep -q '^debian' && has_wasm_target debian; then
  toolchain=debian
fi
if [ -z "$toolchain" ]; then
  say "rustup cannot add wasm32 here; building it from Debian's rustc-web"
  apt_install rustc-web cargo-web rust-web-src lld-22
  src=$(ls -d /usr/src/rustc-*/library 2>/dev/null | sort -V | tail -n 1)
  [ -n "$src" ] || { say "rust-web-src did not provide /usr/src/rustc-*/library"; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/src" "$work/.cargo"
  cat >"$work/Cargo.toml" <<TOML
[package]
name = "stdbuild"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
path = "src/lib.rs"
[profile.release]
panic = "abort"
TOML
  : >"$work/src/lib.rs"
  cat >"$work/.cargo/config.toml" <<TOML
[source.crates-io]
replace-with = "vendored"
[source.vendored]
directory = "$src/vendor"
TOML
  ln -sf /usr/lib/llvm-22/bin/wasm-ld \
    /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld 2>/dev/null || {
    as_root mkdir -p /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin
    as_root ln -sf /usr/lib/llvm-22/bin/wasm-ld \
      /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
  }
  say "building std for wasm32 (about two minutes, once)"
  # Debian's cargo would otherwise run rustup's rustc, first on PATH.
  (cd "$work" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release \
    --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)
  as_root mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
  as_root cp "$work"/target/wasm32-unknown-unknown/release/deps/*.rlib \
    /usr/lib/rustlib/wasm32-unknown-unknown/lib/
  rustup toolchain link debian /usr
  has_wasm_target debian || { say "the debian toolchain still lacks wasm32"; exit 1; }
  toolchain=debian
fi
echo "$toolchain" >"$state"
say "wasm32 toolchain: $toolchain"

# wasm-pack and wasm-bindgen are host tools; rustup's stable builds them.
bindgen=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' \
  "$here/crate/Cargo.lock")
if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack from crates.io (a few minutes, once)"
  cargo +stable install -q --locked wasm-pack ||
    cargo +stable install -q wasm-pack
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen" ]; then
  say "installing wasm-bindgen-cli $bindgen (a few minutes, once)"
  # --locked first; a yanked crate in the published lock file makes cargo
  # refuse it, and then the newest compatible versions are the fallback.
  cargo +stable install -q --locked --force wasm-bindgen-cli --version "=$bindgen" ||
    cargo +stable install -q --force wasm-bindgen-cli --version "=$bindgen"
fi
say "wasm-pack $(wasm-pack --version | awk '{print $2}'), wasm-bindgen $bindgen"
