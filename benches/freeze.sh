#!/usr/bin/env bash
# benches/freeze.sh: what deploy_window and changelog_entry add to a run.
#
# The same small repository (20 files, tags v0.1.0..v0.3.0, main, clean,
# a CHANGELOG.md of 300 sections, 60 KiB, with v1.2.3's on top) is gated
# for `--env prod --version v1.2.3` with two configs, side by side:
#   without: no freeze, no changelog required (both rows say so);
#   with:    four freezes (a weekend in Europe/Berlin, a nightly one in
#            America/New_York, two one-off periods) and require_changelog.
# CI_FAKE_UTC fixes the time outside every freeze, so both runs are SAFE
# (exit 0, asserted) and deploy_window does its most work: it names the
# next freeze of each.
#
# Target (issue 13, "Tests and speed"): both gates together add under 1 ms
# to the policy phase:
#   rows:   median over RUNS runs of the two rows' duration_ms (the JSON
#           report's own timing of each gate) under 1 ms;
#   whole:  median CPU time (user + system, from wait4) of the whole
#           process with the gates, minus the median without (runs
#           interleaved; config validation of the freezes included), under
#           1 ms. CPU time, not wall time: on a machine shared with builds,
#           wall time measures the neighbours. The wall times are shown too.
# Memory at scale (issue 17): the same gate with 10,000 freezes, peak RSS
# from /usr/bin/time -v (GNU time), side by side with the run without:
#   many:     5,000 recurring freezes in 8 zones, their expressions drawn
#             from a team calendar's usual shapes (an hour and a weekday
#             each, a few hundred distinct), and 5,000 one-off periods;
#   distinct: 10,000 recurring freezes whose 20,000 expressions are all
#             different (the worst case: nothing to share).
# Target: peak under 64 MiB for "many"; "distinct" is shown (each distinct
# expression costs about 5 KiB, croner's year table). Both runs SAFE.
# Children get only PATH, HOME and CI_FAKE_UTC.
#
# Usage: benches/freeze.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

RUNS=${RUNS:-300} WARMUP=10
TARGET_MS=1
NOW=2026-12-08T09:30:00Z

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/release-sentinel}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/repo"
run() { env -i PATH="$PATH" HOME="$tmp/home" CI_FAKE_UTC="$NOW" "$@"; }

# The fixture: same files, identities and dates every time, no user config.
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
cd "$tmp/repo"
git init -q -b main
git config gc.auto 0
n=0
for minor in 1 2 3; do
  printf '# demo\n\nrelease 0.%s.0\n' "$minor" >README.md
  for _ in 1 2 3 4 5 6; do
    n=$((n + 1))
    printf 'pub fn f%02d() -> u32 {\n    %d\n}\n' "$n" "$n" >"mod_$(printf %02d "$n").rs"
  done
  export GIT_AUTHOR_DATE="2024-01-0${minor}T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0${minor}T12:00:00Z"
  git add -A && git commit -q -m "release 0.$minor.0" && git tag "v0.$minor.0"
done
python3 - >CHANGELOG.md <<'PY'
print("# Changelog\n\nAll notable changes to this project are documented here.\n")
print("## [Unreleased]\n")
for i in range(300):
    major, minor, patch = 1, 2 - i // 100, (3 - i) % 100
    print(f"## [{major}.{minor}.{patch}] - 2026-{1 + i % 12:02d}-{1 + i % 28:02d}")
    print("### Added\n- a feature that took a while to write, described in one line")
    print("- another one, with a link to its issue (#1234) and a note on migrating\n")
    print("### Fixed\n- a bug that only showed on the second Tuesday of the month\n")
for i in range(300):
    print(f"[{i}.0.0]: https://example.invalid/compare/v{i}...v{i + 1}")
PY
git add -A && git commit -q -m "changelog"
[[ -z $(git status --porcelain) ]] || { echo "fixture is not clean" >&2; exit 1; }

cat >"$tmp/without.toml" <<'TOML'
[policy]
branches = ["main"]
TOML
cat >"$tmp/with.toml" <<'TOML'
[policy]
branches = ["main"]
require_changelog = true
[[policy.freeze]]
name = "weekend"
freeze_start = "0 23 * * 5"
freeze_end = "0 7 * * 1"
timezone = "Europe/Berlin"
[[policy.freeze]]
name = "nightly batch"
freeze_start = "30 1 * * *"
freeze_end = "15 3 * * *"
timezone = "America/New_York"
[[policy.freeze]]
name = "year end"
from = "2026-12-24"
until = "2027-01-01"
timezone = "Europe/Berlin"
[[policy.freeze]]
name = "migration"
from = "2027-02-06T18:00"
until = "2027-02-08T06:00:00Z"
timezone = "Europe/Berlin"
TOML

# Both runs SAFE; with the gates, both rows OK and doing their work.
for cfg in without with; do
  rc=0
  out=$(run "$bin" --env prod --version v1.2.3 --config "$tmp/$cfg.toml" 2>&1) || rc=$?
  if [[ $rc != 0 ]]; then
    printf 'unexpected run with %s.toml (exit %s, want 0):\n%s\n' "$cfg" "$rc" "$out" >&2
    exit 1
  fi
done
want_window='deploy_window             | OK   | not in a freeze; next: "nightly batch"'
want_log='changelog_entry           | OK   | CHANGELOG.md has a section for 1.2.3'
grep -qF "$want_window" <<<"$out" && grep -qF "$want_log" <<<"$out" ||
  { printf 'the gates did not do their work:\n%s\n' "$out" >&2; exit 1; }

# 10,000 freezes, and the peak memory of a gate that evaluates them all.
python3 - "$tmp" <<'PY'
import random, sys
tmp = sys.argv[1]
rng = random.Random(17)
zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
         "Asia/Tokyo", "Europe/London", "America/Los_Angeles", "UTC"]
head = '[policy]\nbranches = ["main"]\n'
with open(f"{tmp}/many.toml", "w") as f:
    f.write(head)
    for i in range(5000):
        # Weekend hours: NOW, a Tuesday, is outside every one.
        h, d = rng.randrange(21), rng.choice([0, 6])
        f.write(f'[[policy.freeze]]\nname = "team {i}"\nfreeze_start = "0 {h} * * {d}"\n'
                f'freeze_end = "30 {h + rng.randrange(1, 4)} * * {d}"\n'
                f'timezone = "{rng.choice(zones)}"\n')
    for i in range(5000):
        day = 1 + rng.randrange(27)
        f.write(f'[[policy.freeze]]\nname = "period {i}"\n'
                f'from = "2027-{1 + i % 12:02d}-{day:02d}T{i % 24:02d}:00"\n'
                f'until = "2027-{1 + i % 12:02d}-{day + 1:02d}T{i % 24:02d}:00"\n'
                f'timezone = "{rng.choice(zones)}"\n')
with open(f"{tmp}/distinct.toml", "w") as f:
    f.write(head)
    for i in range(10000):
        m, h, dom = i % 60, (i // 60) % 24, 1 + (i // 1440) % 28
        # January to November: NOW, in December, is outside every one.
        f.write(f'[[policy.freeze]]\nname = "f{i}"\nfreeze_start = "{m} {h} {dom} 1-11 *"\n'
                f'freeze_end = "{m} {h} {dom + 1} 1-11 *"\ntimezone = "{zones[i % 8]}"\n')
PY
peak() { # config -> peak RSS in KiB; the run must be SAFE
  local rc=0
  run /usr/bin/time -v "$bin" --env prod --version v1.2.3 --repo "$tmp/repo" \
    --config "$tmp/$1.toml" >"$tmp/$1.out" 2>"$tmp/$1.time" || rc=$?
  [[ $rc == 0 ]] || { printf '%s.toml: exit %s\n' "$1" "$rc" >&2; cat "$tmp/$1.out" >&2; exit 1; }
  grep -F 'Maximum resident set size' "$tmp/$1.time" | awk '{print $NF}'
}
wall() { grep -F 'Elapsed (wall clock)' "$tmp/$1.time" | awk '{print $NF}'; }
base_kib=$(peak without) many_kib=$(peak many) distinct_kib=$(peak distinct)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mem_ok=$(awk -v k="$many_kib" 'BEGIN { print (k < 64 * 1024) ? "PASS" : "FAIL" }')
memory_report="10,000 freezes: peak $(mib "$many_kib") MiB (5,000 recurring, 5,000 periods; $(wall many) wall),"
memory_report+=" $(mib "$distinct_kib") MiB with 20,000 distinct expressions ($(wall distinct) wall),"
memory_report+=" $(mib "$base_kib") MiB with none  target < 64 MiB  $mem_ok"

cd "$tmp"
run python3 - "$bin" "$tmp" "$WARMUP" "$RUNS" "$TARGET_MS" "$memory_report" "$mem_ok" <<'PY'
import json, os, statistics, subprocess, sys, time
binary, tmp, warmup, runs, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
def cmd(cfg, *extra):
    return [binary, "--env", "prod", "--version", "v1.2.3", "--repo", f"{tmp}/repo",
            "--config", f"{tmp}/{cfg}.toml", *extra]
def once(c):
    t = time.perf_counter()
    child = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - t) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, child.returncode
wall = {"without": [], "with": []}
cpu = {"without": [], "with": []}
for i in range(warmup + runs):
    for cfg in ("without", "with") if i % 2 == 0 else ("with", "without"):
        w, c, rc = once(cmd(cfg))
        if rc != 0:
            sys.exit(f"{cfg}: exit {rc}")
        if i >= warmup:
            wall[cfg].append(w)
            cpu[cfg].append(c)
rows = []
for _ in range(runs):
    doc = json.loads(subprocess.run(cmd("with", "--format", "json"), capture_output=True).stdout)
    d = {c["id"]: c["duration_ms"] for c in doc["checks"]}
    rows.append(d["deploy_window"] + d["changelog_entry"])
med = lambda d: {k: statistics.median(v) for k, v in d.items()}
wall_med, cpu_med = med(wall), med(cpu)
added = cpu_med["with"] - cpu_med["without"]
row_med, row_max = statistics.median(rows), max(rows)
ok_rows, ok_cpu = row_med < target, added < target
verdict = lambda ok: "PASS" if ok else "FAIL"
print("deploy_window and changelog_entry: release-sentinel --env prod --version v1.2.3")
print("  small repo, CHANGELOG.md of 300 sections (v1.2.3 on top), 4 freezes, CI_FAKE_UTC outside them")
print(f"  the two rows' duration_ms, {runs} runs: median {row_med:.3f} ms, max {row_max:.3f} ms"
      f"  target median < {target:g} ms  {verdict(ok_rows)}")
print(f"  whole run, CPU time, {runs} interleaved runs each: median {cpu_med['with']:.2f} ms with the"
      f" gates, {cpu_med['without']:.2f} ms without: {added:+.2f} ms  target < {target:g} ms  {verdict(ok_cpu)}")
print(f"  whole run, wall time (spawn included): median {wall_med['with']:.2f} ms with the gates,"
      f" {wall_med['without']:.2f} ms without: {wall_med['with'] - wall_med['without']:+.2f} ms")
print(f"  {sys.argv[6]}")
ok = ok_rows and ok_cpu and sys.argv[7] == "PASS"
print(f"RESULT: {verdict(ok)}")
sys.exit(0 if ok else 1)
PY
