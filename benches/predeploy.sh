#!/usr/bin/env bash
# benches/predeploy.sh: what `predeploy` adds to the commands it runs.
#
# A small repository (two commits, the previous release v1.0.0 tagged on the
# first) with `[parity]` (staging and production, one matching dotenv file
# each) and `[predeploy]`: a current approvals file and five trivial
# commands in all, one deploy, one smoke test (writing a one-test JUnit
# report), one rollback (checking `{previous_tag}` is v1.0.0) and two audits.
#   1. The whole protocol, `predeploy --env staging --version v1.1.0 --yes
#      -q --format json` (READY asserted, with 1 test and v1.0.0 as the
#      previous tag), against the same five commands run in sequence by a
#      shell script. Medians over RUNS runs after WARMUP, the two taken in
#      turn by one python3 loop (so both see the same load), spawn included.
#      target: median(predeploy) - median(the five commands) < 100 ms
#   2. Peak RSS of one predeploy run (GNU time), reported.
# Children get only PATH, HOME and CI_FAKE_UTC (a fixed time, so the
# approvals never expire).
#
# Usage: benches/predeploy.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

RUNS=${RUNS:-30} WARMUP=3
TARGET_MS=100

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel
for tool in python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install -y --no-install-recommends time python3)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/repo" "$tmp/home"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
now=2026-06-01T00:00:00Z
run() { env -i PATH="$PATH" HOME="$tmp/home" CI_FAKE_UTC="$now" "$@"; }
git_c() { git -c user.name=bench -c user.email=bench@example.invalid "$@"; }

cd "$tmp/repo"
git init -q -b main
git config gc.auto 0
printf 'APP_NAME=shop\nLOG_LEVEL=info\nDB_POOL_SIZE=10\nFEATURE_CHECKOUT=true\n' >staging.env
cp staging.env production.env
cat >approvals.toml <<'TOML'
[[approvals]]
covers = "quality-audit"
decision = "approved"
signatory = "Dana Reyes"
decided_at = "2026-05-28T10:00:00Z"
expires_at = "2026-06-05T00:00:00Z"

[[approvals]]
covers = "security-review"
decision = "approved"
signatory = "Sam Okafor"
decided_at = "2026-05-29T10:00:00Z"
expires_at = "2026-06-05T00:00:00Z"
TOML
cat >release-sentinel.toml <<'TOML'
[parity.env.staging]
sources = [{ file = "staging.env" }]

[parity.env.production]
sources = [{ file = "production.env" }]

[predeploy]
approvals = "approvals.toml"
require = ["quality-audit", "security-review"]
deploy = ["sh", "-c", "echo deploying $RS_VERSION to $RS_ENV"]
smoke = ["sh", "-c", "printf '<testsuite tests=\"1\"><testcase name=\"health\"/></testsuite>\\n' >\"$RS_EVIDENCE_DIR/smoke.xml\""]
smoke_junit = "{out}/smoke.xml"
rollback = ["sh", "-c", "test \"$1\" = v1.0.0 && echo rolled back to $1", "rollback", "{previous_tag}"]
audit = [["true"], ["sh", "-c", "echo 0 vulnerabilities"]]
TOML
printf '.artifacts/\n' >.gitignore
git add -A && git_c commit -q -m 'release 1.0.0'
git_c tag -a v1.0.0 -m v1.0.0
echo 'LOG_FORMAT=json' >>staging.env
echo 'LOG_FORMAT=json' >>production.env
git add -A && git_c commit -q -m 'log format'

# The same five commands, run in sequence by a shell, with what predeploy
# gives them (the variables, {previous_tag} expanded).
out="$tmp/repo/.artifacts/pre-deployment"
cat >"$tmp/commands.sh" <<SH
export RS_ENV=staging RS_VERSION=v1.1.0 RS_PREVIOUS_TAG=v1.0.0 RS_EVIDENCE_DIR=$out
sh -c 'echo deploying \$RS_VERSION to \$RS_ENV' || exit 1
sh -c 'printf '"'"'<testsuite tests="1"><testcase name="health"/></testsuite>\n'"'"' >"\$RS_EVIDENCE_DIR/smoke.xml"' || exit 1
sh -c 'test "\$1" = v1.0.0 && echo rolled back to \$1' rollback v1.0.0 || exit 1
true || exit 1
sh -c 'echo 0 vulnerabilities' || exit 1
SH

pre=("$bin" predeploy --env staging --version v1.1.0 --yes -q --format json)
run "${pre[@]}" >"$tmp/first.json" || { echo "predeploy did not pass:" >&2; cat "$tmp/first.json" >&2; exit 1; }
python3 - "$tmp/first.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
rows = {s["id"]: s for s in d["steps"]}
ok = (all(rows[i]["status"] == "OK" for i in ("approvals", "staging_parity", "deploy_rehearsal",
      "smoke_tests", "rollback_rehearsal", "security", "package", "readiness_review"))
      and d["verdict"] == "READY"
      and rows["smoke_tests"]["message"].startswith("1 test: 1 passed")
      and "rolled back to v1.0.0" in rows["rollback_rehearsal"]["message"]
      and "2 audit commands passed" in rows["security"]["message"])
if not ok:
    sys.exit(f"unexpected predeploy report ({d['verdict']}):\n" + "\n".join(f"  {s['id']}: {s['status']} {s['message']}" for s in d["steps"]))
PY
run sh "$tmp/commands.sh" >/dev/null && [[ -s $out/smoke.xml ]] || { echo "the five commands did not run" >&2; exit 1; }

read -r pre_ms cmd_ms < <(run python3 -c 'import subprocess, statistics, sys, time
warmup, runs, script, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
a, b = [], []
for i in range(warmup + runs):
    for ms, argv in ((a, cmd), (b, ["sh", script])):
        t = time.perf_counter()
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if rc != 0: sys.exit(f"{argv[0]}: exit {rc}")
        if i >= warmup: ms.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(a):.2f} {statistics.median(b):.2f}")' "$WARMUP" "$RUNS" "$tmp/commands.sh" "${pre[@]}")

run /usr/bin/time -f %M -o "$tmp/rss" "${pre[@]}" >/dev/null
kib=$(tail -n 1 "$tmp/rss")
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

python3 - "$pre_ms" "$cmd_ms" "$kib" "$TARGET_MS" "$RUNS" "$load" "$(nproc)" <<'PY'
import sys
pre, cmd, kib, target = map(float, sys.argv[1:5])
runs, load, cpus = sys.argv[5], sys.argv[6], sys.argv[7]
v = lambda ok: "PASS" if ok else "FAIL"
overhead = pre - cmd
ok = overhead < target
print("predeploy: approvals, parity (4 keys), 5 trivial commands (1 deploy, 1 smoke, 1 rollback, 2 audits),")
print("the secrets scan, the package and the evidence files")
print(f"  predeploy --yes, median of {runs}: {pre:.2f} ms")
print(f"  the same five commands by sh, median of {runs}: {cmd:.2f} ms")
print(f"  overhead: {overhead:.2f} ms  target < {target:g} ms  {v(ok)}")
print(f"  peak RSS {kib / 1024:.1f} MiB")
print(f"  ({cpus} CPUs, load average {load})")
print(f"RESULT: {v(ok)}")
sys.exit(0 if ok else 1)
PY
