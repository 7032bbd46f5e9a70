#!/usr/bin/env bash
# Every test: `cargo test` on the Rust core (native) and vitest on the
# built package. Installs and builds what is missing first. Ends with one
# line `N passed, N failed` over both; exits non-zero if anything failed.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 1
say() { printf '[test] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh || {
  say "setup failed"
  echo "0 passed, 1 failed"
  exit 1
}

# Regression guard: a toolchain probe once renamed its output over
# /dev/null, turning the device into a file for every later command.
if [ ! -c /dev/null ]; then
  say "setup replaced /dev/null with a regular file"
  echo "0 passed, 1 failed"
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cargo prints one `test result:` line per test binary and per doc-test
# run; the counts are their sums. A build that fails prints none.
say "cargo test (crate/)"
(cd crate && cargo test --color never 2>&1) | tee "$work/cargo.log"
cargo_rc=${PIPESTATUS[0]}
read -r cargo_passed cargo_failed cargo_ignored < <(
  awk '/^test result: /{
         for (i = 1; i <= NF; i++) {
           if ($(i+1) ~ /^passed/) p += $i
           if ($(i+1) ~ /^failed/) f += $i
           if ($(i+1) ~ /^ignored/) g += $i
         }
       } END { print p + 0, f + 0, g + 0 }' "$work/cargo.log"
)
if [ "$cargo_rc" -ne 0 ] && [ "$cargo_failed" -eq 0 ]; then
  say "cargo test exited with $cargo_rc before reporting a failure"
  cargo_failed=1
fi

# The JSON reporter gives exact counts; the default one is for people.
say "vitest run"
npx vitest run --reporter=default --reporter=json \
  --outputFile.json="$work/vitest.json"
vitest_rc=$?
read -r vitest_passed vitest_failed vitest_skipped < <(
  node -e '
    const fs = require("node:fs");
    let r;
    try {
      r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    } catch {
      console.log("0 0 0");
      process.exit(0);
    }
    // A file that fails to load has no tests, but it did fail.
    const broken = r.testResults.filter(
      (f) => f.status === "failed" && f.assertionResults.length === 0,
    ).length;
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(r.numPassedTests, r.numFailedTests + broken, skipped);
  ' "$work/vitest.json"
)
if [ "$vitest_rc" -ne 0 ] && [ "$vitest_failed" -eq 0 ]; then
  say "vitest exited with $vitest_rc before reporting a failure"
  vitest_failed=1
fi

say "cargo test: passed $cargo_passed, failed $cargo_failed, ignored $cargo_ignored"
say "vitest: passed $vitest_passed, failed $vitest_failed, skipped $vitest_skipped"
passed=$((cargo_passed + vitest_passed))
failed=$((cargo_failed + vitest_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
