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
#      turn by benches/lib.sh's timer (so both see the same load), spawn
#      included.
#      target: median(predeploy) - median(the five commands) < 100 ms
#   2. Peak RSS of predeploy (GNU time, max of 3 runs), reported.
# Children get only PATH, HOME and CI_FAKE_UTC (a fixed time, so the
# approvals never expire).
#
# Usage: benches/predeploy.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-30} WARMUP=3
TARGET_MS=100

bench_init git
mkdir "$tmp/repo"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
now=2026-06-01T00:00:00Z
RUN_ENV=(CI_FAKE_UTC="$now")
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
if ! run sh "$tmp/commands.sh" >/dev/null || [[ ! -s $out/smoke.xml ]]; then
  echo "the five commands did not run" >&2
  exit 1
fi

echo "predeploy: approvals, parity (4 keys), 5 trivial commands (1 deploy, 1 smoke, 1 rollback, 2 audits),"
echo "the secrets scan, the package and the evidence files"
bench_time -w "$WARMUP" -n "$RUNS" -m 3 \
  :: "the same five commands by sh" -- sh "$tmp/commands.sh" \
  :: "predeploy --yes" -- "${pre[@]}"
overhead=$(awk -v a="$(bench_get "predeploy --yes" ms)" -v b="$(bench_get "the same five commands by sh" ms)" \
  'BEGIN { printf "%.2f", a - b }')
verdict "$(awk -v o="$overhead" -v t="$TARGET_MS" 'BEGIN { print (o < t) }')"
echo "  overhead: $overhead ms  target < $TARGET_MS ms  $v"
echo "  peak RSS of predeploy $(mib "$(bench_get "predeploy --yes" kib)") MiB"
echo "  ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown))"
bench_result
