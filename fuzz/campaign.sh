#!/usr/bin/env bash
# A fuzzing campaign: every target run until it has used CPU_SECONDS of CPU
# time (not wall time: on a shared machine a wall-clock budget says little),
# JOBS targets at a time. Each target's libFuzzer log goes to logs/<target>.log
# and its summary line (executions, coverage, findings) to standard output.
# Findings land in artifacts/<target>/; copy each into corpus/<target>/found-*
# once fixed, so the ordinary test suite replays it (tests/suite/fuzz_corpus.rs).
#
#   fuzz/campaign.sh                         # 30 CPU-minutes per target, 2 at a time
#   CPU_SECONDS=60 TARGETS="avi mp4" fuzz/campaign.sh
#   BUILD=0 fuzz/campaign.sh                 # the binaries as last built
#   UNIT_TIMEOUT=60 fuzz/campaign.sh         # wall seconds per input before it counts as a hang
#                                            # (raise it when builds share the CPU)
set -euo pipefail
cd "$(dirname "$0")"
cpu_seconds=${CPU_SECONDS:-1800}
jobs=${JOBS:-2}
read -r -a targets <<<"${TARGETS:-avi flv mp4 matroska probe audio_front_end}"
if [ "${BUILD:-1}" != 0 ]; then cargo +nightly fuzz build -O; fi
bin_dir=target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release
ticks=$(getconf CLK_TCK)

# One target: libFuzzer stopped with SIGINT (it then prints its final stats)
# once its process has used the budget.
run_target() {
  local target=$1
  mkdir -p "target/work/$target" "artifacts/$target" logs
  "$bin_dir/$target" "target/work/$target" "corpus/$target" -timeout="${UNIT_TIMEOUT:-10}" -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"logs/$target.log" 2>&1 &
  local pid=$! used=0
  while kill -0 "$pid" 2>/dev/null; do
    used=$(awk -v t="$ticks" '{ print int(($14 + $15) / t) }' "/proc/$pid/stat" 2>/dev/null || echo "$used")
    if [ "$used" -ge "$cpu_seconds" ]; then kill -INT "$pid" 2>/dev/null || true; fi
    sleep 5
  done
  wait "$pid" && status=0 || status=$?
  local runs cov findings
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$target.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "logs/$target.log" | tail -1)
  findings=$(find "artifacts/$target" -type f | wc -l)
  # libFuzzer exits 0 after SIGINT-free runs, 72 on SIGINT; anything else is a finding.
  echo "$target: ${used} CPU-s, ${runs:-?} executions, ${cov:-cov: ?}, $findings finding(s), exit $status"
}

running=0
for target in "${targets[@]}"; do
  run_target "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
