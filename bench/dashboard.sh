#!/usr/bin/env bash
# Dashboard benchmark: read and sum a generated spend file of ROWS rows
# (default 1,000,000) natively, with pandas (the peer, on the very same file)
# and in the page's worker, printed side by side as rows per second, with the
# totals cross-checked and the page's longest main-thread frame gap.
#
#   bench/dashboard.sh [ROWS]
set -euo pipefail
trap 'rc=$?; echo "bench/dashboard: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROWS="${1:-1000000}"
OUT="$ROOT/bench/out/dashboard"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
mkdir -p "$OUT"

"$ROOT/scripts/reference/make-venv.sh" >/dev/null
cargo build --release --quiet
[[ -f dist/index.html ]] || scripts/build-web.sh

"$BIN" dashboard --sample "$ROWS" --write-sample "$OUT" >/dev/null
"$BIN" bench dashboard --rows "$ROWS" > "$OUT/native.json"
"$ROOT/.venv-ref/bin/python" "$ROOT/scripts/reference/dashboard_pandas.py" bench "$OUT" > "$OUT/pandas.json"
node "$ROOT/bench/dashboard-web.mjs" "$ROWS" > "$OUT/web.json"

python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
native, pandas, web = (json.loads((out / f"{n}.json").read_text()) for n in ("native", "pandas", "web"))
print(f"spend file: {native['rows']:,} rows, {native['bytes'] / 1e6:.1f} MB, {native['bad_rows']} broken rows")
print(f"{'':24}{'rows/s':>12}{'parse s':>10}{'sum s':>9}{'× pandas':>10}")
rows = [
    ("creative-filter (CLI)", native["rows_per_s"], native["parse_s"], native["aggregate_s"]),
    (f"pandas {pandas['pandas']}", pandas["rows_per_s"], pandas["parse_s"], pandas["aggregate_s"]),
    ("page (dashboard worker)", web["rows_per_s"], web["parse_ms"] / 1e3, web["view_ms"] / 1e3),
]
for name, rate, parse, agg in rows:
    print(f"{name:24}{rate:>12,.0f}{parse:>10.2f}{agg:>9.2f}{rate / pandas['rows_per_s']:>10.2f}")
print(f"page / CLI: {web['rows_per_s'] / native['rows_per_s']:.2f}; longest main-thread frame gap while reading: "
      f"{web['max_frame_gap_ms']:.0f} ms (p99 {web['p99_frame_gap_ms']:.0f} ms, {web['frames']} frames)")
same = native["total_kopecks"] == pandas["total_kopecks"] == web["total"]
print(f"totals (kopecks): CLI {native['total_kopecks']}, pandas {pandas['total_kopecks']}, page {web['total']}: "
      + ("equal" if same else "DIFFERENT"))
sys.exit(0 if same else 1)
PY
