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
# WARMUP, by a python3 loop. Children get only PATH and HOME.
#
# Usage: benches/tags.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

RUNS=${RUNS:-40} WARMUP=5
TARGET_MS=10 TARGET_MIB=15 TARGET_RATIO=2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
run() { env -i PATH="$PATH" HOME="$tmp/home" "$@"; }

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

times() { # dir cmd...
  local dir=$1; shift
  (cd "$dir" && run python3 -c 'import subprocess, statistics, sys, time
warmup, runs, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
ms = []
for i in range(warmup + runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if i >= warmup: ms.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ms):.2f}")' "$WARMUP" "$RUNS" "$@")
}
real_ms=$(times "$tmp/real" "$bin" --env prod --version v1.41.0)
many_ms=$(times "$tmp/many" "$bin" --env prod --version v50.0.0)
git_ms=$(times "$tmp/many" git tag --merged HEAD)
light_ms=$(times "$tmp/light" "$bin" --env prod --version v50.0.0)
git_light_ms=$(times "$tmp/light" git tag --merged HEAD)
rss() { (cd "$1" && run /usr/bin/time -f %M -o "$tmp/rss" "$bin" --env prod --version "$2" >/dev/null 2>&1 || true; tail -n 1 "$tmp/rss"); }
real_kib=$(rss "$tmp/real" v1.41.0)
many_kib=$(rss "$tmp/many" v50.0.0)

python3 - "$real_ms" "$real_kib" "$many_ms" "$git_ms" "$many_kib" "$light_ms" "$git_light_ms" "$TARGET_MS" "$TARGET_MIB" "$TARGET_RATIO" "$RUNS" <<'PY'
import sys
real_ms, real_kib, many_ms, git_ms, many_kib, light_ms, git_light_ms = map(float, sys.argv[1:8])
target_ms, target_mib, target_ratio, runs = float(sys.argv[8]), float(sys.argv[9]), float(sys.argv[10]), sys.argv[11]
v = lambda ok: "PASS" if ok else "FAIL"
ok1, ok2 = real_ms < target_ms, real_kib / 1024 < target_mib
ratio, light_ratio = many_ms / git_ms, light_ms / git_light_ms
ok3 = ratio <= target_ratio and light_ratio <= target_ratio
print(f"policy phase, whole process, median of {runs} runs:")
print(f"  real project's clone (2,000 commits, 44 tags, 4 off HEAD's line): {real_ms:.2f} ms"
      f"  target < {target_ms:g} ms  {v(ok1)};  peak RSS {real_kib / 1024:.1f} MiB  target < {target_mib:g} MiB  {v(ok2)}")
print(f"  50,000 annotated tags: release-sentinel {many_ms:.2f} ms vs git tag --merged HEAD {git_ms:.2f} ms"
      f" = {ratio:.2f}x;  peak RSS {many_kib / 1024:.1f} MiB")
print(f"  50,000 lightweight tags: release-sentinel {light_ms:.2f} ms vs git tag --merged HEAD {git_light_ms:.2f} ms"
      f" = {light_ratio:.2f}x")
print(f"  target <= {target_ratio:g}x for both  {v(ok3)}")
ok = ok1 and ok2 and ok3
print(f"RESULT: {v(ok)}")
sys.exit(0 if ok else 1)
PY
