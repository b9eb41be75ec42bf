#!/usr/bin/env bash
# benches/fleet.sh: the health phase over a fleet, read through Prometheus.
#
# A real Prometheus (Debian's `prometheus`) on 127.0.0.1 scrapes, with
# honor_labels, two files served by python3's http.server: 10,000 hosts of
# node_exporter- and process-exporter-shaped series (filesystem avail,
# free and size for "/", MemAvailable, MemTotal, num_procs for nginx: six
# series a host, 60,000 in all), and 1,000 more hosts, one of them with a
# full disk.
#   1. The gate with three fleet checks (disk "/", memory, process nginx)
#      over the 10,000 hosts: median wall time of the whole run over RUNS
#      runs, against the median of the same three value queries sent one
#      after the other with curl (POST, the same time parameter) to the same
#      Prometheus, the two taking turns (benches/lib.sh's timer): target
#      within 1.2x. Peak RSS of the gate (GNU time): target under 60 MiB.
#      SAFE asserted.
#   2. One gate over the 1,000 hosts, one breaching: the disk row is CRIT,
#      names the host, and the table has one row for the check.
#
# Usage: benches/fleet.sh        (exit 0 = PASS, 1 = FAIL)
#        BIN=path/to/release-sentinel benches/fleet.sh   (a binary already built)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-10} WARMUP=2
TARGET_RATIO=1.2 TARGET_MIB=60
HOSTS=10000 SMALL=1000

bench_init git prometheus curl

# The two fleets, as exporters would show them (one file each).
mkdir -p "$tmp/www"
python3 - "$tmp/www" "$HOSTS" "$SMALL" <<'PY'
import sys
out, hosts, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
G = 1024 ** 3
def fleet(path, n, prefix, full=None):
    fams = {k: [] for k in ("avail", "free", "size", "avail_mem", "total_mem", "procs")}
    for i in range(n):
        inst = f'{prefix}-{i:05d}'
        fs = f'device="/dev/vda",fstype="ext4",instance="{inst}",mountpoint="/"'
        free, avail = (3 * G, 2 * G) if i == full else (60 * G, 55 * G)
        fams["avail"].append(f'node_filesystem_avail_bytes{{{fs}}} {avail}')
        fams["free"].append(f'node_filesystem_free_bytes{{{fs}}} {free}')
        fams["size"].append(f'node_filesystem_size_bytes{{{fs}}} {100 * G}')
        fams["avail_mem"].append(f'node_memory_MemAvailable_bytes{{instance="{inst}"}} {6 * G}')
        fams["total_mem"].append(f'node_memory_MemTotal_bytes{{instance="{inst}"}} {16 * G}')
        fams["procs"].append(f'namedprocess_namegroup_num_procs{{groupname="nginx",instance="{inst}"}} 4')
    with open(path, "w") as f:
        for lines in fams.values():
            f.write("\n".join(lines) + "\n")
fleet(f"{out}/big", hosts, "host")
fleet(f"{out}/small", small, "web", full=421)
PY
bench_http_dir "$tmp/www"
web=$http_port

cat >"$tmp/prometheus.yml" <<YML
global: {scrape_interval: 5s, scrape_timeout: 4s}
scrape_configs:
  - job_name: fleet
    honor_labels: true
    metrics_path: /big
    static_configs: [{targets: ["127.0.0.1:$web"]}]
  - job_name: small
    honor_labels: true
    metrics_path: /small
    static_configs: [{targets: ["127.0.0.1:$web"]}]
YML
bench_prometheus "$tmp/prometheus.yml"
prom=$prom_port
count() {
  curl -sf "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=count($1)" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}
echo "waiting for Prometheus to ingest $HOSTS + $SMALL hosts ..." >&2
for _ in $(seq 120); do
  [ "$(count 'namedprocess_namegroup_num_procs{job="fleet"}')" = "$HOSTS" ] &&
    [ "$(count 'node_filesystem_avail_bytes{job="small"}')" = "$SMALL" ] && break
  sleep 1
done
[ "$(count 'node_memory_MemTotal_bytes{job="fleet"}')" = "$HOSTS" ] || { echo "not ingested" >&2; tail "$tmp/prometheus.log" >&2; exit 1; }

export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
repo() { # dir, config
  mkdir "$1" && (cd "$1" && git init -q -b main && printf '%s\n' "$2" >release-sentinel.toml &&
    git add -A && git -c user.name=b -c user.email=b@example.invalid commit -q -m bench)
}
repo "$tmp/big" "[prometheus]
url = \"http://127.0.0.1:$prom\"
timeout = \"30s\"

[[health.disk]]
path = \"/\"
fleet = '{job=\"fleet\"}'
hosts = $HOSTS

[health.memory]
fleet = '{job=\"fleet\"}'
hosts = $HOSTS

[[health.process]]
name = \"nginx\"
fleet = '{job=\"fleet\"}'
hosts = $HOSTS"
repo "$tmp/small" "[prometheus]
url = \"http://127.0.0.1:$prom\"

[[health.disk]]
path = \"/\"
fleet = '{job=\"small\"}'
hosts = $SMALL"
RUN_ENV=(GIT_CONFIG_NOSYSTEM=1)

cd "$tmp/big"
run "$bin" --env prod --version v1.0.0 --format json >"$tmp/big.json" 2>"$tmp/big.err" || { cat "$tmp/big.err" "$tmp/big.json" >&2; exit 1; }
grep -q '"verdict": *"SAFE"' "$tmp/big.json" || { head -c 3000 "$tmp/big.json" >&2; exit 1; }
# The three value queries the gate sent, for curl.
python3 - "$tmp/big.json" >"$tmp/queries" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for c in doc["checks"]:
    if c["id"] in ("disk:/", "memory", "process:nginx"):
        print(c["details"]["queries"][0])
PY
[ "$(wc -l <"$tmp/queries")" = 3 ] || { echo "expected 3 queries" >&2; cat "$tmp/queries" >&2; exit 1; }

cat >"$tmp/curl.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
now=\$(date +%s.%N)
while IFS= read -r q; do
  curl -sf -o /dev/null "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=\$q" --data-urlencode "time=\$now"
done <"$tmp/queries"
SH
chmod +x "$tmp/curl.sh"
# The gate and curl take turns, run by run: a load that comes and goes on
# the machine (a build starting) falls on both sides alike, not on one.
echo "fleet health through a local Prometheus: 10,000 hosts, three checks (disk /, memory, process nginx)"
bench_time -w "$WARMUP" -n "$RUNS" -m 1 \
  :: "the three queries by curl" -- "$tmp/curl.sh" \
  :: "whole gate" -- "$bin" --env prod --version v1.0.0
gate_ms=$(bench_get "whole gate" ms) curl_ms=$(bench_get "the three queries by curl" ms) kib=$(bench_get "whole gate" kib)

cd "$tmp/small"
set +e
run "$bin" --env prod --version v1.0.0 >"$tmp/small.out" 2>&1
small_rc=$?
set -e
disk_rows=$(grep -c '^| disk:/ ' "$tmp/small.out" || true)
grep '^| disk:/ ' "$tmp/small.out" >&2 || true

python3 - "$gate_ms" "$curl_ms" "$kib" "$TARGET_RATIO" "$TARGET_MIB" "$RUNS" "$small_rc" "$disk_rows" "$tmp/small.out" <<'PY'
import sys
gate, curl, kib = map(float, sys.argv[1:4])
t_ratio, t_mib, runs = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
rc, rows, small = int(sys.argv[7]), int(sys.argv[8]), open(sys.argv[9]).read()
v = lambda ok: "PASS" if ok else "FAIL"
mib, ratio = kib / 1024, gate / curl
ok1, ok2 = ratio <= t_ratio, mib < t_mib
row = next((l for l in small.splitlines() if l.startswith("| disk:/ ")), "")
ok3 = rc == 2 and rows == 1 and "| CRIT |" in row and 'instance="web-00421"' in row and "1 of 1000 hosts" in row
print("fleet health through a local Prometheus: 10,000 hosts, three checks (disk /, memory, process nginx)")
print(f"  whole gate, median of {runs}: {gate:.1f} ms; the three queries by curl: {curl:.1f} ms; ratio {ratio:.2f}  target <= {t_ratio:g}x  {v(ok1)}")
print(f"  peak RSS {mib:.1f} MiB  target < {t_mib:g} MiB  {v(ok2)}")
print(f"  1,000 hosts, one breaching: exit {rc}, {rows} disk row: {row.strip()}  {v(ok3)}")
ok = ok1 and ok2 and ok3
print(f"RESULT: {v(ok)}")
sys.exit(0 if ok else 1)
PY
