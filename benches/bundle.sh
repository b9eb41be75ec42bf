#!/usr/bin/env bash
# benches/bundle.sh: `bundle` of 2,000 files / 1 GiB against `zip` and
# `sha256sum` of the same files.
#
# The fixture (MIB MiB in all, default 1024, in 2,000 files): a release as
# a deploy ships it, outside the timing:
#   - 4 large files, 60% of the bytes: two of model weights (incompressible)
#     and two of logs (text);
#   - 1,996 files sharing the rest: a third text (configs, logs, JSON, from
#     a vocabulary of words, about 3x compressible), a third binary-ish data
#     (half of each 4-byte word zero, about 1.7x), a third already
#     compressed (random).
# All in a git repository with one commit (the bundle's time), listed by
# one `[[bundle.files]]` glob.
#
# Alternates, RUNS times each (default 3), whole processes:
#   - `release-sentinel bundle --version v1.0.0 --out OUT` (the zip, the
#     SHA-256 of every file, the zip's digest, the statement);
#   - `zip -q -X -r -6 OUT/ref.zip data` followed by `sha256sum` of the
#     same files (and of the zip), the same work with the standard tools.
# Timed by benches/lib.sh's timer, the two taking turns. Outputs are
# removed between runs; the bundle is checked with `unzip -tq` and
# `sha256sum -c`, and every bundle must be byte-identical to the first.
#
# Target: median(bundle) <= median(zip + sha256sum): no slower.
#
# Usage: benches/bundle.sh        MIB=64 benches/bundle.sh for a quick try
#        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIB=${MIB:-1024} FILES=2000
RUNS=${RUNS:-3} TARGET_RATIO=1.0
[[ $MIB =~ ^[1-9][0-9]*$ ]] || { echo "MIB must be a positive integer" >&2; exit 1; }

bench_init git zip unzip sha256sum
mkdir "$tmp/repo" "$tmp/out"
bench_git_env

echo "setting up $FILES files, $MIB MiB, in $tmp/repo ..." >&2
cd "$tmp/repo"
python3 - "$MIB" "$FILES" <<'PY'
import os, random, sys
mib, files = int(sys.argv[1]), int(sys.argv[2])
total = mib * 1024 * 1024
rnd = random.Random(7)
words = ["release", "deploy", "error", "warn", "info", "request", "latency", "ms", "status",
         "200", "503", "user", "order", "payment", "queue", "retry", "timeout", "config",
         "replicas", "image", "true", "false", "null", "id", "ts", "level", "message"]
def text(n):
    out, size = [], 0
    while size < n:
        line = f"{rnd.randrange(10**9):09d} " + " ".join(rnd.choice(words) for _ in range(rnd.randint(4, 14))) + "\n"
        out.append(line); size += len(line)
    return "".join(out).encode()[:n]
pool = text(8 * 1024 * 1024)  # slices of one pool: deflate does not share across files
def text_of(n):
    out = bytearray()
    while len(out) < n:
        at = rnd.randrange(len(pool) - 1024)
        out += pool[at:at + min(n - len(out), len(pool) - at)]
    return bytes(out)
def binaryish(n):
    b = bytearray(n)
    b[0::4] = os.urandom(len(b[0::4]))
    b[1::4] = os.urandom(len(b[1::4]))
    return bytes(b)
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
large = int(total * 0.6) // 4
write("data/models/weights-a.bin", os.urandom(large))
write("data/models/weights-b.bin", os.urandom(large))
write("data/logs/build.log", text_of(large))
write("data/logs/test.log", text_of(large))
rest, small = total - 4 * large, files - 4
sizes = [rnd.lognormvariate(0, 1) for _ in range(small)]
scale = rest / sum(sizes)
sizes = [max(1, int(s * scale)) for s in sizes]
sizes[-1] += rest - sum(sizes)
for i, n in enumerate(sizes):
    kind = i % 3
    d = f"data/{('conf', 'blobs', 'packages')[kind]}/{i // 100:02d}"
    ext = ("json", "dat", "gz")[kind]
    data = (text_of, binaryish, os.urandom)[kind](n)
    write(f"{d}/f{i:04d}.{ext}", data)
PY
cat >release-sentinel.toml <<'EOF'
[bundle]
name = "bench"
[[bundle.files]]
path = "data/**"
description = "release data"
EOF
git init -q -b main && git config gc.auto 0
git add release-sentinel.toml && git commit -q -m bench
count=$(find data -type f | wc -l) bytes=$(du -sb data | cut -f1)
[[ $count == "$FILES" ]] || { echo "fixture: $count files, not $FILES" >&2; exit 1; }
find data -type f | sort >"$tmp/list"
cat data/models/* data/logs/* >/dev/null # warm the page cache

bundle() { run "$bin" bundle --version v1.0.0 --out "$tmp/out" >/dev/null; }
clean="rm -rf '$tmp/out' && mkdir '$tmp/out'"

# Checks: the bundle is whole and reproducible.
bundle
(cd "$tmp/out" && run sha256sum -c --quiet bench-v1.0.0.zip.sha256 && run unzip -tq bench-v1.0.0.zip >/dev/null) ||
  { echo "the bundle does not check" >&2; exit 1; }
first=$(cut -d' ' -f1 "$tmp/out/bench-v1.0.0.zip.sha256")
bundle_size=$(stat -c %s "$tmp/out/bench-v1.0.0.zip")

# The same work with the standard tools.
cat >"$tmp/reference.sh" <<SH
set -e
zip -q -X -r -6 "$tmp/out/ref.zip" data
xargs -d '\n' sha256sum <"$tmp/list" >"$tmp/out/sums"
sha256sum "$tmp/out/ref.zip" >/dev/null
SH

echo "bundle of $count files, $((bytes / 1048576)) MiB:"
bench_time -w 0 -n "$RUNS" -m 0 \
  :: "zip -q -X -r -6 + sha256sum" -b "$clean" -a "stat -c %s '$tmp/out/ref.zip' >'$tmp/ref_size'" -- \
  sh "$tmp/reference.sh" \
  :: "release-sentinel bundle" -b "$clean" -a "grep -q '^$first ' '$tmp/out/bench-v1.0.0.zip.sha256'" -- \
  "$bin" bundle --version v1.0.0 --out "$tmp/out"
ratio=$(awk -v a="$(bench_get "release-sentinel bundle" ms)" -v b="$(bench_get "zip -q -X -r -6 + sha256sum" ms)" \
  'BEGIN { printf "%.2f", a / b }')
echo "  zips: release-sentinel $((bundle_size / 1048576)) MiB, zip $(($(cat "$tmp/ref_size") / 1048576)) MiB"
verdict "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) }')"
echo "  ratio ${ratio}x  target <= ${TARGET_RATIO}x  $v"
bench_result
