#!/usr/bin/env bash
# benches/policy_run.sh: speed and memory of a policy-only run.
#
# Runs `release-sentinel --env prod --version v1.2.3` in a small fixed
# repository (20 files, 3 commits tagged v0.1.0..v0.3.0, on main, clean)
# with none of the required variables set, so the run is BLOCKED by
# required_config alone (the health rows are then SKIP) and exits 1
# (asserted).
#
# Targets (issue 2, "Speed"):
#   wall time: median over 200 runs (after 10 warmups) under 10 ms (p90 shown)
#   memory:    peak RSS (GNU time %M), max over 20 runs, under 15 MiB
#   start-up:  peak RSS of `release-sentinel -V`, max over 20 runs,
#              under 10 MiB; the release binary's size under 12 MB
# Timed by benches/lib.sh's timer (whole processes, spawn included). The
# child gets only PATH and HOME.
#
# Usage: benches/policy_run.sh        (exit 0 = PASS, 1 = FAIL)
#        BIN=path/to/release-sentinel benches/policy_run.sh   (a binary already built)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-200} WARMUP=10 RSS_RUNS=20
TARGET_MS=10 TARGET_MIB=15 TARGET_START_MIB=10 TARGET_SIZE_MB=12
ARGS=(--env prod --version v1.2.3)

bench_init git
bench_small_repo "$tmp/repo"
cd "$tmp/repo"

# The run must be blocked by required_config and nothing else.
rc=0
out=$(run "$bin" "${ARGS[@]}" 2>&1) || rc=$?
rows=$(awk -F' *[|] *' '/^[|]/ { print $2, $3 }' <<<"$out")
if [[ $rc != 1 ]] || ! grep -qx 'required_config FAIL' <<<"$rows" ||
  [[ $(grep -vcxE '[a-z_]* OK|.* SKIP' <<<"$rows") != 2 ]]; then
  printf 'unexpected run (exit %s, want 1 with only required_config failing):\n%s\n' "$rc" "$out" >&2
  exit 1
fi

echo "policy-only run: release-sentinel --env prod --version v1.2.3"
echo "  small repo (20 files, tags v0.1.0..v0.3.0, main, clean), BLOCKED by required_config (exit 1)"
bench_time -w "$WARMUP" -n "$RUNS" -m "$RSS_RUNS" :: "release-sentinel ${ARGS[*]}" -x 1 -- "$bin" "${ARGS[@]}"
bench_time -w 2 -n "$RSS_RUNS" -m "$RSS_RUNS" :: "release-sentinel -V" -- "$bin" -V
ms=$(bench_get "release-sentinel ${ARGS[*]}" ms)
kib=$(bench_get "release-sentinel ${ARGS[*]}" kib)
start_kib=$(bench_get "release-sentinel -V" kib)
size=$(stat -c %s "$bin")

verdict "$(awk -v m="$ms" -v t="$TARGET_MS" 'BEGIN { print (m < t) }')"
echo "  wall time: median $ms ms  target < $TARGET_MS ms  $v"
verdict $((kib < TARGET_MIB * 1024))
echo "  peak memory: $(mib "$kib") MiB  target < $TARGET_MIB MiB  $v"
verdict $((start_kib < TARGET_START_MIB * 1024))
echo "  start-up: peak RSS of -V $(mib "$start_kib") MiB  target < $TARGET_START_MIB MiB  $v"
verdict $((size < TARGET_SIZE_MB * 1000000))
echo "  binary size: $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB  target < $TARGET_SIZE_MB MB  $v"
bench_result
