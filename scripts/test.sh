#!/usr/bin/env bash
# The whole test suite: installs tools, prepares the models and the test data
# (cached after the first run), runs every Rust test, builds the page and
# runs the end-to-end tests in headless Chromium. Each stage prints its time,
# so a slow CI run shows where the time went.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
t0=$SECONDS
stage() {
  local t=$SECONDS
  echo "== test: $* ==" >&2
  "$@"
  echo "== test: $* took $((SECONDS - t)) s (total $((SECONDS - t0)) s) ==" >&2
}
stage node --test tests/js/
stage env CARGO_FEATURES=prepared scripts/prepare.sh
stage scripts/fetch-test-data.sh
stage cargo test --release --features prepared
stage scripts/test-neon-kernels.sh
stage scripts/build-web.sh
# The page's JavaScript against the core's Report (www/js/report.d.ts) and
# the module's declarations wasm-bindgen wrote into dist/.
stage node_modules/.bin/tsc -p www
for t in e2e gpu dashboard vision screen formats hostile; do
  stage node "tests/browser/$t.mjs"
done
