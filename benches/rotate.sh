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
# WARMUP, whole processes (spawn included), by a python3 loop. Both walk a
# warm dentry cache.
#
# Target: median(rotate --dry-run) / median(find) <= 1.5.
#
# Then the peak memory (maximum resident set size, by GNU time's
# `/usr/bin/time -v`) of `rotate --dry-run --days 7` with the table and
# with `--format json` (which lists every file): at most 20 MiB plus
# 0.5 KiB per file for the table, plus 1.5 KiB per file for the JSON
# (70 and 166 MiB at 100,000 files).
#
# Usage: benches/rotate.sh        FILES=10000 benches/rotate.sh for a quick try
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

FILES=${FILES:-100000}
RUNS=${RUNS:-15} WARMUP=3 TARGET_RATIO=1.5
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time is needed: apt-get install -y time" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/release-sentinel}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/tree"
run() { env -i PATH="$PATH" HOME="$tmp/home" "$@"; }

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
ms=$(run python3 -c 'import subprocess, statistics, sys, time
warmup, runs, bin, tree = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
cmds = [["find", tree, "-type", "f", "-mtime", "+7"],
        [bin, "rotate", tree, "--days", "7", "--dry-run"]]
times = [[], []]
for i in range(warmup + runs):
    for k, cmd in enumerate(cmds):
        t = time.perf_counter()
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        dt = (time.perf_counter() - t) * 1000
        if rc != 0:
            sys.exit(f"{cmd[0]} exited {rc}")
        if i >= warmup:
            times[k].append(dt)
print(" ".join(f"{statistics.median(t):.1f}" for t in times))' "$WARMUP" "$RUNS" "$bin" "$tmp/tree")
read -r find_ms rotate_ms <<<"$ms"

# Peak memory, once each (the walk and the plan do not vary from run to run).
peak_kib() {
  run /usr/bin/time -v "$@" 2>&1 >/dev/null |
    awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }'
}
table_kib=$(peak_kib "$bin" rotate "$tmp/tree" --days 7 --dry-run)
json_kib=$(peak_kib "$bin" rotate "$tmp/tree" --days 7 --dry-run --format json)
[[ $table_kib =~ ^[0-9]+$ && $json_kib =~ ^[0-9]+$ ]] ||
  { echo "could not read the peak memory from /usr/bin/time -v" >&2; exit 1; }

python3 - "$find_ms" "$rotate_ms" "$TARGET_RATIO" "$FILES" "$folders" "$want" "$RUNS" \
  "$table_kib" "$json_kib" <<'PY'
import sys
find_ms, rotate_ms, target = map(float, sys.argv[1:4])
files, folders, selected, runs = sys.argv[4:8]
table_kib, json_kib = int(sys.argv[8]), int(sys.argv[9])
n = int(files)
ratio = rotate_ms / find_ms
ok = ratio <= target
table_max = 20 * 1024 + 0.5 * n
json_max = 20 * 1024 + 1.5 * n
mem_ok = table_kib <= table_max and json_kib <= json_max
print(f"rotate --dry-run on {n:,} files in {int(folders):,} folders ({int(selected):,} older than 7 days),"
      f" median of {runs} runs:")
print(f"  release-sentinel rotate --days 7 --dry-run: {rotate_ms:.1f} ms")
print(f"  find -type f -mtime +7:                     {find_ms:.1f} ms")
print(f"  ratio {ratio:.2f}x  target <= {target:g}x  {'PASS' if ok else 'FAIL'}")
print(f"peak memory (maximum resident set size):")
print(f"  table:         {table_kib / 1024:.1f} MiB  target <= {table_max / 1024:.0f} MiB")
print(f"  --format json: {json_kib / 1024:.1f} MiB  target <= {json_max / 1024:.0f} MiB"
      f"  {'PASS' if mem_ok else 'FAIL'}")
ok = ok and mem_ok
print(f"RESULT: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
