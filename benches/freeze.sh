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
# (GNU time, through benches/lib.sh's timer), side by side with the run without:
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
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-300} WARMUP=10
TARGET_MS=1
NOW=2026-12-08T09:30:00Z

bench_init git
RUN_ENV=(CI_FAKE_UTC="$NOW")
bench_small_repo "$tmp/repo"
cd "$tmp/repo"
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
if ! grep -qF "$want_window" <<<"$out" || ! grep -qF "$want_log" <<<"$out"; then
  printf 'the gates did not do their work:\n%s\n' "$out" >&2
  exit 1
fi

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
gate() { # config [args...]: the gate's command line
  printf '%s\n' "$bin" --env prod --version v1.2.3 --repo "$tmp/repo" --config "$tmp/$1.toml" "${@:2}"
}
cd "$tmp"
echo "deploy_window and changelog_entry: release-sentinel --env prod --version v1.2.3"
echo "  small repo, CHANGELOG.md of 300 sections (v1.2.3 on top), 4 freezes, CI_FAKE_UTC outside them"
echo "memory: 10,000 freezes (5,000 recurring, 5,000 periods), 20,000 distinct expressions, none:"
mapfile -t many < <(gate many)
mapfile -t distinct < <(gate distinct)
mapfile -t without < <(gate without)
mapfile -t with < <(gate with)
bench_time -w 0 -n 1 -m 1 :: many -- "${many[@]}" :: distinct -- "${distinct[@]}" :: none -- "${without[@]}"
many_kib=$(bench_get many kib)
verdict $((many_kib < 64 * 1024))
mem_v=$v
echo "  10,000 freezes: peak $(mib "$many_kib") MiB  target < 64 MiB  $mem_v"

echo "speed: the whole run without and with the two gates (CPU time from wait4: on a shared machine"
echo "wall time measures the neighbours):"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 :: without -- "${without[@]}" :: with -- "${with[@]}"
mkdir "$tmp/json"
bench_time -w 0 -n "$RUNS" -m 0 -k "$tmp/json" :: "with, --format json" -- "${with[@]}" --format json >/dev/null
read -r row_med row_max < <(python3 -c 'import json, statistics, sys
rows = []
for p in sys.argv[1:]:
    d = {c["id"]: c["duration_ms"] for c in json.load(open(p))["checks"]}
    rows.append(d["deploy_window"] + d["changelog_entry"])
print(f"{statistics.median(rows):.3f} {max(rows):.3f}")' "$tmp"/json/*.out)
verdict "$(awk -v m="$row_med" -v t="$TARGET_MS" 'BEGIN { print (m < t) }')"
echo "  the two rows' duration_ms, $RUNS runs: median $row_med ms, max $row_max ms  target median < $TARGET_MS ms  $v"
cpu_with=$(bench_get with cpu) cpu_without=$(bench_get without cpu)
added=$(awk -v a="$cpu_with" -v b="$cpu_without" 'BEGIN { printf "%+.2f", a - b }')
verdict "$(awk -v a="$added" -v t="$TARGET_MS" 'BEGIN { print (a < t) }')"
echo "  whole run, CPU time: median $cpu_with ms with the gates, $cpu_without ms without: $added ms  target < $TARGET_MS ms  $v"
wall_added=$(awk -v a="$(bench_get with ms)" -v b="$(bench_get without ms)" 'BEGIN { printf "%+.2f", a - b }')
echo "  whole run, wall time (spawn included): $wall_added ms"
bench_result
