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
# extra figure. Timed by hyperfine when it is on PATH (one run of each per
# round), else by a python3 loop. Both children get only PATH and HOME.
#
# Usage: benches/clean_tree.sh        FILES=5000 benches/clean_tree.sh for a quick try
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

FILES=${FILES:-100000}
RUNS=15 WARMUP=3 TARGET_RATIO=1.2
ARGS=(--env dev --version v9.9.9)
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/repo"
run() { env -i PATH="$PATH" HOME="$tmp/home" "$@"; }

# The fixture: same files, identity and date every time, no user config.
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid GIT_AUTHOR_DATE=2024-01-01T12:00:00Z \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid GIT_COMMITTER_DATE=2024-01-01T12:00:00Z
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

# Alternating runs: lines "k ms exit_code", k = 0 for git, 1 for release-sentinel.
if command -v hyperfine >/dev/null; then
  timer="hyperfine $(hyperfine --version | cut -d' ' -f2), one run of each per round"
  for round in $(seq $((WARMUP + RUNS))); do
    run hyperfine -N -i --style none --runs 1 --export-json "$tmp/hf.json" \
      "git status --porcelain" "$(printf '%q ' "$bin" "${ARGS[@]}")" 2>"$tmp/hf.err" ||
      { cat "$tmp/hf.err" >&2; exit 1; }
    ((round <= WARMUP)) && continue
    python3 -c 'import json, sys
for k, r in enumerate(json.load(open(sys.argv[1]))["results"]):
    t, rc = r["times"][0], r["exit_codes"][0]
    print(k, f"{t * 1000:.3f}", rc)' "$tmp/hf.json" >>"$tmp/times"
  done
else
  timer="python3 loop, alternating"
  run python3 -c 'import subprocess, sys, time
warmup, runs, bin, args = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
cmds = [["git", "status", "--porcelain"], [bin, *args]]
for i in range(warmup + runs):
    for k, cmd in enumerate(cmds):
        t = time.perf_counter()
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        t = time.perf_counter() - t
        if i >= warmup: print(k, f"{t * 1000:.3f}", rc)' "$WARMUP" "$RUNS" "$bin" "${ARGS[@]}" >"$tmp/times"
fi

# Extra figure: clean_tree's own duration_ms, median of 5 JSON runs.
for _ in 1 2 3 4 5; do
  run "$bin" "${ARGS[@]}" --format json 2>/dev/null >"$tmp/gate.json" || true
  python3 -c 'import json, sys
print(next(c["duration_ms"] for c in json.load(open(sys.argv[1]))["checks"] if c["id"] == "clean_tree"))' \
    "$tmp/gate.json" >>"$tmp/check_ms"
done

python3 - "$tmp/times" "$tmp/check_ms" "$FILES" "$modified" "$TARGET_RATIO" "$timer" "$WARMUP" <<'EOF'
import statistics, sys
times, check_ms, files, modified, target, timer, warmup = sys.argv[1:]
rows = [line.split() for line in open(times)]
ms = {k: [float(t) for kk, t, _ in rows if kk == k] for k in "01"}
codes = {k: sorted({c for kk, _, c in rows if kk == k}) for k in "01"}
git, gate = statistics.median(ms["0"]), statistics.median(ms["1"])
check = statistics.median(float(x) for x in open(check_ms))
ratio = gate / git
ok_codes = codes == {"0": ["0"], "1": ["1"]}
verdict = lambda ok: "PASS" if ok else "FAIL"
print(f"clean_tree vs git status: {int(files):,} tracked files, 1 modified ({modified})")
print(f"  {len(ms['0'])} runs each after {warmup} warmups each ({timer}, spawn included)")
print(f"  exit codes: git {','.join(codes['0'])}, release-sentinel {','.join(codes['1'])}"
      f" (want 0 and 1)  {verdict(ok_codes)}")
print(f"  {'git status --porcelain':<44} median {git:8.1f} ms")
print(f"  {'release-sentinel --env dev --version v9.9.9':<44} median {gate:8.1f} ms  (whole run, all gates)")
print(f"    of which the clean_tree row (duration_ms, median of 5 --format json runs): {check:.1f} ms")
print(f"  ratio {ratio:.2f}  target <= {target}  {verdict(ratio <= float(target))}")
print("  (the whole binary run is timed: startup, opening the repository, reading the index,")
print("   and every gate; stricter than clean_tree alone)")
ok = ok_codes and ratio <= float(target)
print(f"RESULT: {verdict(ok)}")
sys.exit(0 if ok else 1)
EOF
