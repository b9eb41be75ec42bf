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
# Wall time is the whole process, spawn included, timed by hyperfine when it
# is on PATH, else by a python3 loop. The child gets only PATH and HOME.
#
# Usage: benches/policy_run.sh        (exit 0 = PASS, 1 = FAIL)
#        BIN=path/to/release-sentinel benches/policy_run.sh   (a binary already built)
set -euo pipefail

RUNS=200 WARMUP=10 RSS_RUNS=20
TARGET_MS=10 TARGET_MIB=15 TARGET_START_MIB=10 TARGET_SIZE_MB=12
ARGS=(--env prod --version v1.2.3)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/release-sentinel}
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/repo"
run() { env -i PATH="$PATH" HOME="$tmp/home" "$@"; }

# The fixture: same files, identities and dates every time, no user config.
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
cd "$tmp/repo"
git init -q -b main
# No background gc: it would race the clean-up and the timings.
git config gc.auto 0
printf 'target/\n' >.gitignore
n=0
for minor in 1 2 3; do
  printf '# demo\n\nrelease 0.%s.0\n' "$minor" >README.md
  for _ in 1 2 3 4 5 6; do
    n=$((n + 1))
    printf 'pub fn f%02d() -> u32 {\n    %d\n}\n' "$n" "$n" >"mod_$(printf %02d "$n").rs"
  done
  export GIT_AUTHOR_DATE="2024-01-0${minor}T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0${minor}T12:00:00Z"
  git add -A && git commit -q -m "release 0.$minor.0" && git tag "v0.$minor.0"
done
[[ -z $(git status --porcelain) ]] || { echo "fixture is not clean" >&2; exit 1; }

# The run must be blocked by required_config and nothing else.
rc=0
out=$(run "$bin" "${ARGS[@]}" 2>&1) || rc=$?
rows=$(awk -F' *[|] *' '/^[|]/ { print $2, $3 }' <<<"$out")
if [[ $rc != 1 ]] || ! grep -qx 'required_config FAIL' <<<"$rows" ||
  [[ $(grep -vcxE '[a-z_]* OK|.* SKIP' <<<"$rows") != 2 ]]; then
  printf 'unexpected run (exit %s, want 1 with only required_config failing):\n%s\n' "$rc" "$out" >&2
  exit 1
fi

# Wall time: lines "ms exit_code" in $tmp/times.
if command -v hyperfine >/dev/null; then
  timer="hyperfine $(hyperfine --version | cut -d' ' -f2)"
  run hyperfine -N -i --style none --warmup "$WARMUP" --runs "$RUNS" \
    --export-json "$tmp/hf.json" "$(printf '%q ' "$bin" "${ARGS[@]}")" 2>"$tmp/hf.err" ||
    { cat "$tmp/hf.err" >&2; exit 1; }
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
for t, c in zip(r["times"], r["exit_codes"]): print(f"{t * 1000:.3f} {c}")' "$tmp/hf.json" >"$tmp/times"
else
  timer="python3 loop"
  run python3 -c 'import subprocess, sys, time
warmup, runs, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for i in range(warmup + runs):
    t = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    t = time.perf_counter() - t
    if i >= warmup: print(f"{t * 1000:.3f} {rc}")' "$WARMUP" "$RUNS" "$bin" "${ARGS[@]}" >"$tmp/times"
fi

# Peak memory: max RSS in KiB over RSS_RUNS runs.
rss=0
for _ in $(seq "$RSS_RUNS"); do
  run /usr/bin/time -f %M -o "$tmp/rss" "$bin" "${ARGS[@]}" >/dev/null 2>&1 || true
  kib=$(tail -n 1 "$tmp/rss")
  if ((kib > rss)); then rss=$kib; fi
done

# Start-up: max RSS in KiB of -V over RSS_RUNS runs; the size.
start=0
for _ in $(seq "$RSS_RUNS"); do
  run /usr/bin/time -f %M -o "$tmp/rss" "$bin" -V >/dev/null 2>&1
  kib=$(tail -n 1 "$tmp/rss")
  if ((kib > start)); then start=$kib; fi
done
size=$(stat -c %s "$bin")

python3 - "$tmp/times" "$rss" "$TARGET_MS" "$TARGET_MIB" "$timer" "$WARMUP" "$RSS_RUNS" \
  "$start" "$TARGET_START_MIB" "$size" "$TARGET_SIZE_MB" <<'EOF'
import math, statistics, sys
(path, rss_kib, target_ms, target_mib, timer, warmup, rss_runs,
 start_kib, target_start_mib, size, target_size_mb) = sys.argv[1:]
rows = [line.split() for line in open(path)]
ms = sorted(float(t) for t, _ in rows)
codes = sorted({c for _, c in rows})
median, p90 = statistics.median(ms), ms[math.ceil(0.9 * len(ms)) - 1]
mib = int(rss_kib) / 1024
ok_codes = codes == ["1"]
ok_ms, ok_mem = median < float(target_ms), mib < float(target_mib)
verdict = lambda ok: "PASS" if ok else "FAIL"
print("policy-only run: release-sentinel --env prod --version v1.2.3")
print("  small repo (20 files, tags v0.1.0..v0.3.0, main, clean), BLOCKED by required_config")
print(f"  exit codes: {', '.join(codes)} (want 1)  {verdict(ok_codes)}")
print(f"  wall time, {len(ms)} runs after {warmup} warmups ({timer}, spawn included):")
print(f"    median {median:.2f} ms, p90 {p90:.2f} ms, min {ms[0]:.2f} ms"
      f"  target median < {target_ms} ms  {verdict(ok_ms)}")
print(f"  peak memory: max RSS {mib:.1f} MiB over {rss_runs} runs  target < {target_mib} MiB  {verdict(ok_mem)}")
start_mib, size_mb = int(start_kib) / 1024, int(size) / 1e6
ok_start, ok_size = start_mib < float(target_start_mib), size_mb < float(target_size_mb)
print(f"  start-up: max RSS of -V {start_mib:.1f} MiB over {rss_runs} runs"
      f"  target < {target_start_mib} MiB  {verdict(ok_start)}")
print(f"  binary size: {size_mb:.1f} MB  target < {target_size_mb} MB  {verdict(ok_size)}")
ok = ok_codes and ok_ms and ok_mem and ok_start and ok_size
print(f"RESULT: {verdict(ok)}")
sys.exit(0 if ok else 1)
EOF
