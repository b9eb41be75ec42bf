#!/usr/bin/env bash
# benches/verify.sh: the cost of watching a release.
#
# A real Prometheus (Debian's `prometheus`) on 127.0.0.1 scrapes a static
# exporter every second (python3's http.server serving a metrics file, which
# also answers the probes). The config has 10 rules (each over 30 s at a
# 1 s step) and 4 probes.
#   1. One evaluation (`verify --once`): median wall time over RUNS runs,
#      target under 50 ms (the process, spawn included, by benches/lib.sh's
#      timer). HEALTHY asserted.
#   2. Watching for 60 s at a 1 s interval (`verify --for 60s --interval 1s`):
#      user + system CPU time in all, target under 0.6 s; peak RSS, target
#      under 20 MiB (GNU time, a second run). HEALTHY asserted.
#
# Usage: benches/verify.sh        (exit 0 = PASS, 1 = FAIL)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-30} WARMUP=3
TARGET_MS=50 TARGET_CPU=0.6 TARGET_MIB=20

bench_init git prometheus curl

# The exporter, and the probes' target.
mkdir -p "$tmp/www"
{
  for i in 0 1 2 3 4 5 6 7 8 9; do echo "bench_gauge{i=\"$i\"} $i"; done
  echo 'bench_requests_total{code="200"} 1000'
} >"$tmp/www/metrics"
echo ok >"$tmp/www/health"
bench_http_dir "$tmp/www"
web=$http_port

cat >"$tmp/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: bench
    metrics_path: /metrics
    static_configs: [{targets: ["127.0.0.1:$web"]}]
YML
bench_prometheus "$tmp/prometheus.yml"
prom=$prom_port
# Wait until 30 s of samples exist, so every rule's window is covered.
echo "waiting for 35 s of scraped samples ..." >&2
sleep 35

mkdir "$tmp/repo"
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

out=$(run "$bin" verify --env prod --version v1.0.0 --once 2>&1) || { echo "unexpected: $out" >&2; exit 1; }
grep -q 'VERIFY=HEALTHY' <<<"$out" || { echo "not HEALTHY: $out" >&2; exit 1; }

echo "verify against a local Prometheus: 10 rules (30 s at a 1 s step) and 4 probes"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 :: "verify --once" -- "$bin" verify --env prod --version v1.0.0 --once
once_ms=$(bench_get "verify --once" ms)
verdict "$(awk -v m="$once_ms" -v t="$TARGET_MS" 'BEGIN { print (m < t) }')"
echo "  one evaluation (--once): median $once_ms ms  target < $TARGET_MS ms  $v"

echo "watching for 60 s, twice (the second under GNU time) ..." >&2
mkdir "$tmp/kept"
bench_time -w 0 -n 1 -m 1 -k "$tmp/kept" :: "verify --for 60s --interval 1s" -- \
  "$bin" verify --env prod --version v1.0.0 --for 60s --interval 1s
grep -q 'VERIFY=HEALTHY' "$tmp/kept/1.1.out" || { cat "$tmp/kept/1.1.out" >&2; exit 1; }
cpu=$(bench_get "verify --for 60s --interval 1s" cpu)
kib=$(bench_get "verify --for 60s --interval 1s" kib)
verdict "$(awk -v c="$cpu" -v t="$TARGET_CPU" 'BEGIN { print (c / 1000 < t) }')"
echo "  watching 60 s at 1 s: CPU $(awk -v c="$cpu" 'BEGIN { printf "%.2f", c / 1000 }') s  target < $TARGET_CPU s  $v"
verdict $((kib < TARGET_MIB * 1024))
echo "  peak RSS $(mib "$kib") MiB  target < $TARGET_MIB MiB  $v"
bench_result
