#!/usr/bin/env bash
# benches/verify.sh: the cost of watching a release.
#
# A real Prometheus (Debian's `prometheus`) on 127.0.0.1 scrapes a static
# exporter every second (python3's http.server serving a metrics file, which
# also answers the probes). The config has 10 rules (each over 30 s at a
# 1 s step) and 4 probes.
#   1. One evaluation (`verify --once`): median wall time over RUNS runs,
#      target under 50 ms (the process, spawn included). HEALTHY asserted.
#   2. Watching for 60 s at a 1 s interval (`verify --for 60s --interval 1s`):
#      user + system CPU time in all, target under 0.6 s; peak RSS, target
#      under 20 MiB (GNU time). HEALTHY asserted.
#
# Usage: benches/verify.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail

RUNS=${RUNS:-30} WARMUP=3
TARGET_MS=50 TARGET_CPU=0.6 TARGET_MIB=20

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel
for tool in prometheus python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install -y --no-install-recommends prometheus time python3)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The exporter, and the probes' target.
mkdir -p "$tmp/www"
{
  for i in 0 1 2 3 4 5 6 7 8 9; do echo "bench_gauge{i=\"$i\"} $i"; done
  echo 'bench_requests_total{code="200"} 1000'
} >"$tmp/www/metrics"
echo ok >"$tmp/www/health"
web=$(free_port)
(cd "$tmp/www" && exec python3 -m http.server "$web" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)

prom=$(free_port)
cat >"$tmp/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: bench
    metrics_path: /metrics
    static_configs: [{targets: ["127.0.0.1:$web"]}]
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$prom/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
# Wait until 30 s of samples exist, so every rule's window is covered.
echo "waiting for 35 s of scraped samples ..." >&2
sleep 35

mkdir "$tmp/repo" "$tmp/home"
cd "$tmp/repo"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
git init -q -b main
{
  echo "[prometheus]"
  echo "url = \"http://127.0.0.1:$prom\""
  echo "[verify]"
  for i in 0 1 2 3 4 5 6 7 8 9; do
    echo "[[verify.rule]]"
    echo "name = \"gauge_$i\""
    echo "query = 'max(bench_gauge{i=\"$i\"})'"
    echo "max = 100"
    echo "for = \"30s\""
    echo "step = \"1s\""
  done
  for i in 1 2 3 4; do
    echo "[[verify.probe]]"
    echo "name = \"probe_$i\""
    echo "url = \"http://127.0.0.1:$web/health\""
  done
} >release-sentinel.toml
git add -A && git -c user.name=b -c user.email=b@example.invalid commit -q -m bench
run() { env -i PATH="$PATH" HOME="$tmp/home" "$@"; }

out=$(run "$bin" verify --env prod --version v1.0.0 --once 2>&1) || { echo "unexpected: $out" >&2; exit 1; }
grep -q 'VERIFY=HEALTHY' <<<"$out" || { echo "not HEALTHY: $out" >&2; exit 1; }

once_ms=$(run python3 -c 'import subprocess, statistics, sys, time
warmup, runs, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
ms = []
for i in range(warmup + runs):
    t = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if rc != 0: sys.exit(f"exit {rc}")
    if i >= warmup: ms.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ms):.2f}")' "$WARMUP" "$RUNS" "$bin" verify --env prod --version v1.0.0 --once)

echo "watching for 60 s ..." >&2
run /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$bin" verify --env prod --version v1.0.0 \
  --for 60s --interval 1s >"$tmp/watch.out" 2>&1 || { cat "$tmp/watch.out" >&2; exit 1; }
grep -q 'VERIFY=HEALTHY' "$tmp/watch.out" || { cat "$tmp/watch.out" >&2; exit 1; }
read -r user sys kib <"$tmp/time"

python3 - "$once_ms" "$user" "$sys" "$kib" "$TARGET_MS" "$TARGET_CPU" "$TARGET_MIB" "$RUNS" <<'PY'
import sys
once, user, sys_, kib = map(float, sys.argv[1:5])
t_ms, t_cpu, t_mib, runs = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
v = lambda ok: "PASS" if ok else "FAIL"
cpu, mib = user + sys_, kib / 1024
ok1, ok2, ok3 = once < t_ms, cpu < t_cpu, mib < t_mib
print("verify against a local Prometheus: 10 rules (30 s at a 1 s step) and 4 probes")
print(f"  one evaluation (--once), median of {runs}: {once:.2f} ms  target < {t_ms:g} ms  {v(ok1)}")
print(f"  watching 60 s at 1 s: CPU {cpu:.2f} s (user {user:.2f}, system {sys_:.2f})  target < {t_cpu:g} s  {v(ok2)}")
print(f"  peak RSS {mib:.1f} MiB  target < {t_mib:g} MiB  {v(ok3)}")
ok = ok1 and ok2 and ok3
print(f"RESULT: {v(ok)}")
sys.exit(0 if ok else 1)
PY
