#!/usr/bin/env bash
# benches/parity.sh: parity's peak memory against the size of its input.
#
# Three sources, each compared with a one-key production: KEYS keys
# (default 200,000) only in staging, in one JSON object (about 4 MB);
# a YAML bomb (10 lines whose anchors expand to 9^9 nodes); and a chain
# of 2,000 anchors each naming the one before twice. Peak RSS by GNU
# time's %M, through benches/lib.sh's timer.
#
# Target: the 200,000 keys peak under 32x the input + 32 MiB; the bomb
# and the chain are refused (exit 1) under 64 MiB.
#
# Usage: benches/parity.sh      BIN=target/debug/release-sentinel benches/parity.sh
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEYS=${KEYS:-200000}
bench_init git
mkdir "$tmp/repo"
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

code() { # source -> its exit code
    local rc=0
    run "$bin" parity --source "$1" --target production >/dev/null 2>&1 || rc=$?
    echo "$rc"
}
size=$(stat -c %s staging.json)
staging_rc=$(code staging) bomb_rc=$(code bomb) chain_rc=$(code chain)
echo "parity, peak memory of one run each:"
bench_time -w 0 -n 1 -m 1 \
    :: "$KEYS one-sided keys" -x "$staging_rc" -- "$bin" parity --source staging --target production \
    :: "YAML bomb" -x "$bomb_rc" -- "$bin" parity --source bomb --target production \
    :: "anchor chain" -x "$chain_rc" -- "$bin" parity --source chain --target production
kib=$(bench_get "$KEYS one-sided keys" kib)
limit=$(( (32 * size + 32 * 1024 * 1024) / 1024 ))
verdict $((staging_rc <= 1 && kib <= limit))  # drift warns: exit 0
echo "$KEYS one-sided keys ($size bytes of JSON): exit $staging_rc, peak $((kib / 1024)) MiB (limit $((limit / 1024)) MiB)  $v"
for s in bomb chain; do
    rc_var=${s}_rc
    label=$([[ $s == bomb ]] && echo "YAML bomb" || echo "anchor chain")
    kib=$(bench_get "$label" kib)
    verdict $((${!rc_var} == 1 && kib <= 64 * 1024))
    echo "$s: exit ${!rc_var}, peak $((kib / 1024)) MiB (limit 64 MiB)  $v"
done
bench_result
