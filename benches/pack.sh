#!/usr/bin/env bash
# benches/pack.sh: the pre-live pack's speed targets (issue 4).
#
#  1. Pack overhead: five configured steps that each run `true`, the whole
#     `--dry-run` under 50 ms (median of 20 runs).
#  2. The secrets scan on a tree of 20,000 files (200 MiB, a few planted
#     credentials): the scan_secrets_dry row's duration within 2x of `rg`
#     (ripgrep) searching the same tree for the same patterns (the rules
#     of src/secrets/rules.rs), medians of 5 runs side by side. The row
#     includes listing the files through git; rg's time is its whole run.
#
# Needs ripgrep (`apt-get install ripgrep`). Everything is built in a
# temporary folder, removed on exit. Exit 0 when both targets are met.
set -euo pipefail

command -v rg >/dev/null || { echo "benches/pack.sh needs ripgrep (rg): apt-get install ripgrep" >&2; exit 1; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel
FILES=${FILES:-20000}
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "FILES must be a positive integer" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
git_commit() { git -C "$1" -c user.name=bench -c user.email=bench@example.invalid commit -q -m "$2"; }
fail=0
verdict() { if [[ $1 == 1 ]]; then v=PASS; else v=FAIL; fail=1; fi; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# 1. Five `true` steps.
steps=$tmp/steps
mkdir "$steps" && git -C "$steps" init -q -b main && git -C "$steps" config gc.auto 0
for name in param_sweep_dry tuning_apply_dry chaos_failover_dry rotate_artifacts_dry scan_secrets_dry; do
    printf '[[pack.steps]]\nname = "%s"\nrun = ["true"]\n' "$name" >>"$steps/release-sentinel.toml"
done
git -C "$steps" add -A && git_commit "$steps" steps
overhead=$(python3 - "$steps" "$bin" "$HOME" <<'PY'
import os, subprocess, sys, time
repo, binary, home = sys.argv[1:4]
env = {"PATH": os.environ["PATH"], "HOME": home}
t = []
for _ in range(22):
    s = time.perf_counter()
    r = subprocess.run([binary, "--env", "dev", "--version", "v1.0.0", "--dry-run"], cwd=repo, env=env, stdout=subprocess.DEVNULL)
    t.append((time.perf_counter() - s) * 1000)
    if r.returncode != 0:
        sys.exit("the pack exited %d" % r.returncode)
t = sorted(t[2:])
print("%.1f" % t[len(t) // 2])
PY
)
verdict "$(python3 -c "print(int($overhead < 50))")"
echo "1. pack overhead, five steps running true: median ${overhead} ms; target < 50 ms  $v"

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
rg_ms=() rs_ms=()
for round in 1 2 3 4 5 6; do
    s=$(date +%s%N)
    hits=$(rg --no-config --count-matches "${patterns[@]}" "$tree" | wc -l)
    r=$((($(date +%s%N) - s) / 1000000))
    row=$(cd "$tree" && env -i PATH="$PATH" HOME="$HOME" "$bin" --env dev --version v1.0.0 --dry-run --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = [s for s in d["steps"] if s["id"] == "scan_secrets_dry"][0]
print(int(r["duration_ms"]), r["details"]["scanned"], len(r["details"]["findings"]))' || true)
    read -r ms scanned found <<<"$row"
    ((round > 1)) && rg_ms+=("$r") && rs_ms+=("$ms")
done
rg_med=$(printf '%s\n' "${rg_ms[@]}" | median)
rs_med=$(printf '%s\n' "${rs_ms[@]}" | median)
ratio=$(python3 -c "print('%.2f' % ($rs_med / max($rg_med, 1)))")
echo "2. secrets scan, $scanned files: rg found $hits files with hits, release-sentinel $found findings"
echo "   rg, $((${#patterns[@]} / 2)) patterns      median ${rg_med} ms"
echo "   scan_secrets_dry row       median ${rs_med} ms"
verdict "$(python3 -c "print(int($ratio <= 2.0))")"
echo "   ratio ${ratio}; target <= 2.0  $v"

if ((fail)); then echo "RESULT: FAIL"; exit 1; fi
echo "RESULT: PASS"
