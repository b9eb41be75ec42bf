#!/usr/bin/env bash
# benches/pack.sh: the pre-live pack's speed targets (issue 4).
#
#  1. Pack overhead: five configured steps that each run `true`, the whole
#     `--dry-run` under 50 ms (median of 20 runs).
#  2. The secrets scan on a tree of 20,000 files (200 MiB, a few planted
#     credentials): the scan_secrets_dry row's duration within 2x of `rg`
#     (ripgrep) searching the same tree for the same patterns (the rules
#     of src/secrets/rules.rs), medians of 5 runs side by side (after one
#     warmup, by benches/lib.sh's timer). The row includes listing the
#     files through git; rg's time is its whole run.
#
# Needs ripgrep (`apt-get install ripgrep`). Everything is built in a
# temporary folder, removed on exit. Exit 0 when both targets are met.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FILES=${FILES:-20000}
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }
bench_init git rg
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
git_commit() { git -C "$1" -c user.name=bench -c user.email=bench@example.invalid commit -q -m "$2"; }

# 1. Five `true` steps.
steps=$tmp/steps
mkdir "$steps" && git -C "$steps" init -q -b main && git -C "$steps" config gc.auto 0
for name in param_sweep_dry tuning_apply_dry chaos_failover_dry rotate_artifacts_dry scan_secrets_dry; do
    printf '[[pack.steps]]\nname = "%s"\nrun = ["true"]\n' "$name" >>"$steps/release-sentinel.toml"
done
git -C "$steps" add -A && git_commit "$steps" steps
echo "1. pack overhead, five steps running true:"
(cd "$steps" && bench_time -w 2 -n 20 -m 0 :: "--dry-run, five steps" -- "$bin" --env dev --version v1.0.0 --dry-run)
overhead=$(bench_get "--dry-run, five steps" ms)
verdict "$(awk -v o="$overhead" 'BEGIN { print (o < 50) }')"
echo "   median ${overhead} ms; target < 50 ms  $v"

# 2. The secrets scan against rg.
tree=$tmp/tree
mkdir "$tree" && git -C "$tree" init -q -b main && git -C "$tree" config gc.auto 0
echo "setting up $FILES files (about $((FILES / 100)) MiB) ..." >&2
python3 - "$tree" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 10)))) for _ in range(4000)]
def text(size):
    out, total = [], 0
    while total < size:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(4, 14))) + "\n"
        out.append(line); total += len(line)
    return "".join(out)
chunks = [text(10240) for _ in range(64)]
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    body = chunks[i % 64]
    if i % 5000 == 17:
        # Planted credentials, assembled so that no literal one is committed here.
        body += "aws = " + "AKIA" + "IOSFODNN7EXAMPLE" + "\n"
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write(body)
PY
git -C "$tree" add -A && git_commit "$tree" tree
patterns=()
while IFS= read -r p; do patterns+=(-e "$p"); done < <(python3 - "$root/src/secrets/rules.rs" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
block = src[src.index("const RULES"):src.index("];", src.index("const RULES"))]
for m in re.finditer(r'r"((?:[^"\\]|\\.)*)"', block):
    print(m.group(1))
PY
)
((${#patterns[@]} > 0)) || { echo "no patterns found in rules.rs" >&2; exit 1; }
printf '[pack]\n' >"$tree/release-sentinel.toml"   # built-in steps, default scan
git -C "$tree" add -A && git_commit "$tree" config
mkdir "$tmp/kept"
echo "2. secrets scan against rg, $((${#patterns[@]} / 2)) patterns:"
(cd "$tree" && bench_time -w 1 -n 5 -m 0 -k "$tmp/kept" \
  :: rg -- rg --no-config --count-matches "${patterns[@]}" "$tree" \
  :: "release-sentinel --dry-run --format json" -x any -- "$bin" --env dev --version v1.0.0 --dry-run --format json)
hits=$(wc -l <"$tmp/kept/1.1.out")
read -r rs_med scanned found < <(python3 -c 'import json, statistics, sys
rows = [next(s for s in json.load(open(p))["steps"] if s["id"] == "scan_secrets_dry") for p in sys.argv[1:]]
print(statistics.median(r["duration_ms"] for r in rows), rows[0]["details"]["scanned"], len(rows[0]["details"]["findings"]))' \
  "$tmp"/kept/2.*.out)
rg_med=$(bench_get rg ms)
ratio=$(awk -v a="$rs_med" -v b="$rg_med" 'BEGIN { printf "%.2f", a / (b > 1 ? b : 1) }')
echo "   $scanned files: rg found $hits files with hits, release-sentinel $found findings"
echo "   scan_secrets_dry row (its duration_ms)  median ${rs_med} ms"
verdict "$(awk -v r="$ratio" 'BEGIN { print (r <= 2.0) }')"
echo "   ratio ${ratio}; target <= 2.0  $v"
bench_result
