#!/usr/bin/env bash
# benches/clean_tree.sh: clean_tree on a large tree against `git status`.
#
# Builds a repository of FILES tracked files (default 100000: 1000
# directories x 100 small files, one commit), modifies one of them, then
# alternates `git status --porcelain` and
# `release-sentinel --env dev --version v9.9.9` (15 runs each after 3
# warmups each). The gate must exit 1 with a clean_tree FAIL row naming the
# modified file (asserted).
#
# Target: median(release-sentinel) / median(git status) <= 1.2 (it was 1.5
# in issue 2, "Speed"). The whole binary run is timed (startup, opening the
# repository, every gate), which is stricter than clean_tree alone; the
# clean_tree row's own duration_ms from `--format json` is shown as an
# extra figure. Timed by benches/lib.sh's timer, one run of each per round.
# Both children get only PATH and HOME.
#
# Usage: benches/clean_tree.sh        FILES=5000 benches/clean_tree.sh for a quick try
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FILES=${FILES:-100000}
RUNS=${RUNS:-15} WARMUP=3 TARGET_RATIO=1.2
ARGS=(--env dev --version v9.9.9)
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }

bench_init git
bench_git_env
mkdir "$tmp/repo"
cd "$tmp/repo"
echo "setting up $FILES files in $tmp/repo ..." >&2
git init -q -b main
# No background gc: it would race the clean-up and the timings.
git config gc.auto 0
python3 -c 'import os, sys
for i in range(int(sys.argv[1])):
    d = f"d{i // 100:04d}"
    if i % 100 == 0:
        os.mkdir(d)
    with open(f"{d}/f{i % 100:02d}.txt", "w") as f:
        f.write(f"file {i}\nsmall content\n")' "$FILES"
git add -A && git commit -q -m "$FILES files"
i=$((FILES / 2))
modified=$(printf 'd%04d/f%02d.txt' $((i / 100)) $((i % 100)))
echo "one more line" >>"$modified"
[[ $(git status --porcelain) == " M $modified" ]] || { echo "fixture: unexpected git status" >&2; exit 1; }

# The gate must fail clean_tree, naming the modified file.
rc=0
out=$(run "$bin" "${ARGS[@]}" 2>&1) || rc=$?
row=$(awk -F' *[|] *' '$2 == "clean_tree" { print $3 "|" $4 }' <<<"$out")
if [[ $rc != 1 || $row != "FAIL|"*"$modified (modified)"* ]]; then
  printf 'unexpected run (exit %s, want 1 and clean_tree FAIL naming %s):\n%s\n' "$rc" "$modified" "$out" >&2
  exit 1
fi

echo "clean_tree vs git status: $FILES tracked files, 1 modified ($modified)"
gate="release-sentinel ${ARGS[*]}"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 \
  :: "git status --porcelain" -- git status --porcelain \
  :: "$gate" -x 1 -- "$bin" "${ARGS[@]}"

# Extra figure: clean_tree's own duration_ms, median of 5 JSON runs.
mkdir "$tmp/json"
bench_time -w 0 -n 5 -m 0 -k "$tmp/json" :: "$gate --format json" -x 1 -- "$bin" "${ARGS[@]}" --format json >/dev/null
check=$(python3 -c 'import json, statistics, sys
print(statistics.median(next(c["duration_ms"] for c in json.load(open(p))["checks"] if c["id"] == "clean_tree")
                        for p in sys.argv[1:]))' "$tmp"/json/*.out)
echo "    of which the clean_tree row (duration_ms, median of 5 --format json runs): $check ms"

git_ms=$(bench_get "git status --porcelain" ms) gate_ms=$(bench_get "$gate" ms)
ratio=$(awk -v a="$gate_ms" -v b="$git_ms" 'BEGIN { printf "%.2f", a / b }')
verdict "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) }')"
echo "  ratio $ratio  target <= $TARGET_RATIO  $v"
echo "  (the whole binary run is timed: startup, opening the repository, reading the index,"
echo "   and every gate; stricter than clean_tree alone)"
bench_result
