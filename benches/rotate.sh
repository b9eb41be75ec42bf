#!/usr/bin/env bash
# benches/rotate.sh: `rotate --dry-run` on a large tree against `find`.
#
# The fixture: FILES files (default 100,000) of 1 to 64 KiB in a tree of
# artifacts as CI leaves them: 50 pipelines x 50 jobs, 2,550 folders, 40
# files per job folder, dated from half a day to 30 and a half days ago
# (whole days plus 12 h, never between 7 and 8 days, so that `find -mtime
# +7`, which counts whole days, and `--days 7` select the same files:
# asserted). Outside any repository; HOME elsewhere.
#
# Alternates `find DIR -type f -mtime +7` and
# `release-sentinel rotate DIR --days 7 --dry-run`, RUNS runs each after
# WARMUP, whole processes (spawn included), by benches/lib.sh's timer.
# Both walk a warm dentry cache.
#
# Target: median(rotate --dry-run) / median(find) <= 1.5.
#
# Then the peak memory (maximum resident set size, by GNU time's %M
# through the timer) of `rotate --dry-run --days 7` with the table and
# with `--format json` (which lists every file): at most 20 MiB plus
# 0.5 KiB per file for the table, plus 1.5 KiB per file for the JSON
# (70 and 166 MiB at 100,000 files).
#
# Usage: benches/rotate.sh        FILES=10000 benches/rotate.sh for a quick try
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FILES=${FILES:-100000}
RUNS=${RUNS:-15} WARMUP=3 TARGET_RATIO=1.5
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }

bench_init find
mkdir "$tmp/tree"

echo "setting up $FILES files in $tmp/tree ..." >&2
python3 - "$tmp/tree" "$FILES" <<'PY'
import os, random, sys, time
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
now = time.time()
ages = [d + 0.5 for d in range(31) if d != 7]
chunk = os.urandom(64 * 1024)
for i in range(n):
    job = i // 40
    d = os.path.join(root, f"pipeline-{job // 50:03d}", f"job-{job % 50:02d}")
    if i % 40 == 0:
        os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"artifact-{i % 40:02d}.{('log', 'json', 'tar', 'xml')[i % 4]}")
    with open(p, "wb") as f:
        f.write(chunk[: rnd.randint(1024, 64 * 1024)])
    t = now - rnd.choice(ages) * 86400
    os.utime(p, (t, t))
PY
[[ $(find "$tmp/tree" -type f | wc -l) == "$FILES" ]] || { echo "fixture: not $FILES files" >&2; exit 1; }
folders=$(find "$tmp/tree" -mindepth 1 -type d | wc -l)

# Both select the same files.
want=$(find "$tmp/tree" -type f -mtime +7 | wc -l)
out=$(cd "$tmp" && run "$bin" rotate "$tmp/tree" --days 7 --dry-run 2>&1) ||
  { printf 'rotate failed:\n%s\n' "$out" >&2; exit 1; }
if ! grep -q "would delete $want files" <<<"$out"; then
  printf 'rotate does not plan the %s files find selects:\n%s\n' "$want" "$out" >&2
  exit 1
fi

cd "$tmp"
echo "rotate --dry-run on $FILES files in $folders folders ($want older than 7 days):"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 \
  :: "find -type f -mtime +7" -- find "$tmp/tree" -type f -mtime +7 \
  :: "release-sentinel rotate --days 7 --dry-run" -- "$bin" rotate "$tmp/tree" --days 7 --dry-run
ratio=$(awk -v a="$(bench_get "release-sentinel rotate --days 7 --dry-run" ms)" \
  -v b="$(bench_get "find -type f -mtime +7" ms)" 'BEGIN { printf "%.2f", a / b }')
verdict "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) }')"
echo "  ratio ${ratio}x  target <= ${TARGET_RATIO}x  $v"

# Peak memory, once each (the walk and the plan do not vary from run to run).
echo "peak memory (maximum resident set size):"
bench_time -w 0 -n 1 -m 1 \
  :: table -- "$bin" rotate "$tmp/tree" --days 7 --dry-run \
  :: "--format json" -- "$bin" rotate "$tmp/tree" --days 7 --dry-run --format json
table_kib=$(bench_get table kib) json_kib=$(bench_get "--format json" kib)
table_max=$((20 * 1024 + FILES / 2)) json_max=$((20 * 1024 + FILES * 3 / 2))
verdict $((table_kib <= table_max && json_kib <= json_max))
echo "  table: $(mib "$table_kib") MiB  target <= $((table_max / 1024)) MiB;" \
  "--format json: $(mib "$json_kib") MiB  target <= $((json_max / 1024)) MiB  $v"
bench_result
