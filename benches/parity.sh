#!/usr/bin/env bash
# benches/parity.sh: parity's peak memory against the size of its input.
#
# Three sources, each compared with a one-key production: KEYS keys
# (default 200,000) only in staging, in one JSON object (about 4 MB);
# a YAML bomb (10 lines whose anchors expand to 9^9 nodes); and a chain
# of 2,000 anchors each naming the one before twice. Peak RSS by
# /usr/bin/time (GNU time's %M).
#
# Target: the 200,000 keys peak under 32x the input + 32 MiB; the bomb
# and the chain are refused (exit 1) under 64 MiB.
#
# Usage: benches/parity.sh      BIN=target/debug/release-sentinel benches/parity.sh
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

KEYS=${KEYS:-200000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${BIN:-} ]]; then
    (cd "$root" && cargo build --release --locked --quiet)
    BIN=$root/target/release/release-sentinel
fi
[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/repo"
cd "$tmp/repo"
git init -q .
python3 - "$KEYS" <<'PY'
import json, sys
n = int(sys.argv[1])
open("staging.json", "w").write(json.dumps({f"k{i}": f"v{i}" for i in range(n)}))
open("prod.env", "w").write("x=1\n")
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 9):
    lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]")
open("bomb.yaml", "w").write("\n".join(lines) + "\n")
chain = ["c0: &c0 [x, y]"] + [f"c{i}: &c{i} [*c{i-1}, *c{i-1}]" for i in range(1, 2000)]
open("chain.yaml", "w").write("\n".join(chain) + "\n")
open("release-sentinel.toml", "w").write(
    '[parity.env.staging]\nsources = [{ file = "staging.json" }]\n'
    '[parity.env.bomb]\nsources = [{ file = "bomb.yaml" }]\n'
    '[parity.env.chain]\nsources = [{ file = "chain.yaml" }]\n'
    '[parity.env.production]\nsources = [{ file = "prod.env" }]\n')
PY

peak() { # source -> "exit peak_kib"
    local rc=0
    env -i PATH="$PATH" HOME="$tmp/home" /usr/bin/time -f "%M" -o "$tmp/time" \
        "$BIN" parity --source "$1" --target production >/dev/null 2>&1 || rc=$?
    echo "$rc $(tail -1 "$tmp/time")"
}

status=0
size=$(stat -c %s staging.json)
read -r rc kib <<<"$(peak staging)"
limit=$(( (32 * size + 32 * 1024 * 1024) / 1024 ))
echo "$KEYS one-sided keys ($size bytes of JSON): exit $rc, peak $((kib / 1024)) MiB (limit $((limit / 1024)) MiB)"
[[ $rc -le 1 && $kib -le $limit ]] || status=1  # drift warns: exit 0
for s in bomb chain; do
    read -r rc kib <<<"$(peak $s)"
    echo "$s: exit $rc, peak $((kib / 1024)) MiB (limit 64 MiB)"
    [[ $rc == 1 && $kib -le $((64 * 1024)) ]] || status=1
done
if [[ $status == 0 ]]; then echo PASS; else echo FAIL; fi
exit $status
