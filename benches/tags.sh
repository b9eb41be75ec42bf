#!/usr/bin/env bash
# benches/tags.sh: the policy phase on clones with a real project's tags,
# and with 50,000 tags.
#
# Fixture 1, "a real project's clone": 2,000 commits on main, 40 annotated
# release tags on main, 3 patch releases on maintenance branches and a
# higher pre-release (v2.0.0-beta.1) on a branch HEAD does not contain, all
# cloned (`git clone --no-local`: packed objects, packed refs, as a CI
# checkout has them). `release-sentinel --env prod --version v1.41.0`, with
# no required variable set, is BLOCKED by required_config alone (asserted,
# with version_newer comparing against v1.40.0, the highest reachable).
#   target: median wall time under 10 ms; peak RSS under 15 MiB
# Fixture 2, "50,000 tags": 5,000 commits with 10 tags each, the highest at
# HEAD, cloned; once with annotated tags, once with lightweight ones. The
# same policy-only run against `git tag --merged HEAD` on the same clone.
#   target: median(release-sentinel) / median(git tag --merged HEAD) <= 2
# Wall time is the whole process, spawn included, over RUNS runs after
# WARMUP, by benches/lib.sh's timer. Children get only PATH and HOME.
#
# Usage: benches/tags.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-40} WARMUP=5
TARGET_MS=10 TARGET_MIB=15 TARGET_RATIO=2

bench_init git
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1

# A fast-import stream: $1 commits on main; $2 = real | many.
stream() {
  python3 - "$@" <<'PY'
import sys
n, mode = int(sys.argv[1]), sys.argv[2]
out, t0, mark, main = sys.stdout, 1700000000, [0], []
def commit(branch, i, parent):
    mark[0] += 1
    out.write(f"commit refs/heads/{branch}\nmark :{mark[0]}\n"
              f"committer bench <bench@example.invalid> {t0 + i * 60} +0000\ndata 4\nc{i%100:02d}\n")
    if parent: out.write(f"from :{parent}\n")
    body = f"{i}\n"
    out.write(f"M 644 inline file{i % 50}.txt\ndata {len(body)}\n{body}\n")
    return mark[0]
def tag(name, m, i):
    if mode == "light":
        out.write(f"reset refs/tags/{name}\nfrom :{m}\n\n")
        return
    out.write(f"tag {name}\nfrom :{m}\ntagger bench <bench@example.invalid> {t0 + i * 60} +0000\n"
              f"data {len(name)}\n{name}\n")
prev = None
for i in range(n):
    prev = commit("main", i, prev); main.append(prev)
if mode == "real":
    step = n // 41
    for k in range(1, 41):
        tag(f"v1.{k}.0", main[k * step], k * step)
    j = n
    for k in (10, 20, 30):
        m = commit(f"release-1.{k}", j, main[k * step]); tag(f"v1.{k}.1", m, j); j += 1
    m = commit("next", j, main[n - 300]); tag("v2.0.0-beta.1", m, j)
else:
    k = 0
    for i in range(n):
        for _ in range(10):
            tag(f"v{k // 1000}.{(k // 10) % 100}.{k % 10}", main[i], i); k += 1
out.write("done\n")
PY
}

fixture() { # name commits mode
  git init -q -b main "$tmp/$1-src"
  (cd "$tmp/$1-src" && git config gc.auto 0 && stream "$2" "$3" | git fast-import --quiet &&
    git reset -q --hard main)
  git clone -q --no-local "$tmp/$1-src" "$tmp/$1"
  git -C "$tmp/$1" config gc.auto 0
}
echo "building the fixtures in $tmp ..." >&2
fixture real 2000 real
fixture many 5000 many
fixture light 5000 light
for f in many light; do
  [[ $(git -C "$tmp/$f" tag | wc -l) == 50000 ]] || { echo "fixture $f: not 50000 tags" >&2; exit 1; }
done

rows() { awk -F' *[|] *' '/^[|]/ { print $2, $3 }'; }
check_run() { # dir version want-newer
  local rc=0 out
  out=$(cd "$1" && run "$bin" --env prod --version "$2" 2>&1) || rc=$?
  # Only required_config fails; the health rows are SKIP.
  if [[ $rc != 1 ]] || [[ $(rows <<<"$out" | grep -v '^release_sentinel ' | grep -Ev ' (OK|SKIP)$') != "required_config FAIL" ]] ||
    ! grep -q "newer than $3," <<<"$out"; then
    printf 'unexpected run in %s (exit %s):\n%s\n' "$1" "$rc" "$out" >&2
    exit 1
  fi
}
check_run "$tmp/real" v1.41.0 v1.40.0
check_run "$tmp/many" v50.0.0 v49.99.9
check_run "$tmp/light" v50.0.0 v49.99.9

echo "policy phase, whole process:"
echo "  real project's clone (2,000 commits, 44 tags, 4 off HEAD's line):"
cd "$tmp/real"
bench_time -w "$WARMUP" -n "$RUNS" :: real -x 1 -- "$bin" --env prod --version v1.41.0
echo "  50,000 annotated tags, against git tag --merged HEAD:"
cd "$tmp/many"
bench_time -w "$WARMUP" -n "$RUNS" -m 1 \
  :: "git tag --merged HEAD (annotated)" -- git tag --merged HEAD \
  :: "release-sentinel (annotated)" -x 1 -- "$bin" --env prod --version v50.0.0
echo "  50,000 lightweight tags, against git tag --merged HEAD:"
cd "$tmp/light"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 \
  :: "git tag --merged HEAD (lightweight)" -- git tag --merged HEAD \
  :: "release-sentinel (lightweight)" -x 1 -- "$bin" --env prod --version v50.0.0

real_ms=$(bench_get real ms) real_kib=$(bench_get real kib)
verdict "$(awk -v m="$real_ms" -v t="$TARGET_MS" 'BEGIN { print (m < t) }')"
echo "  real project's clone: median $real_ms ms  target < $TARGET_MS ms  $v"
verdict $((real_kib < TARGET_MIB * 1024))
echo "  real project's clone: peak RSS $(mib "$real_kib") MiB  target < $TARGET_MIB MiB  $v"
ratio() { awk -v a="$(bench_get "release-sentinel ($1)" ms)" -v b="$(bench_get "git tag --merged HEAD ($1)" ms)" 'BEGIN { printf "%.2f", a / b }'; }
for kind in annotated lightweight; do
  r=$(ratio $kind)
  verdict "$(awk -v r="$r" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) }')"
  echo "  50,000 $kind tags: $r x git tag --merged HEAD  target <= ${TARGET_RATIO}x  $v"
done
bench_result
