#!/usr/bin/env bash
# benches/health.sh: the health phase's speed and memory targets (issue 3).
#
#  1. Five API checks whose servers each answer after 300 ms: the whole gate
#     within 1.3 x 300 ms (median of 10 runs), because the checks run at once.
#  2. A dependency that hangs, with the default timeout (3 s) and attempts
#     (3): the gate ends within the documented budget (3 x 3 s plus two
#     waits of at most the 5 s Retry-After cap, plus 0.5 s of slack: 19.5 s),
#     and a fast check run beside it is not delayed (its row under 1 s).
#  3. The process check on a host with 2,000 more processes: the row's own
#     duration under 30 ms (median of 5 runs).
#  4. Peak memory of a full run with the five API checks: under 25 MiB.
#
# Servers listen on 127.0.0.1 only and are stopped on exit, as are the
# 2,000 sleepers. Timed by benches/lib.sh's timer. Exit 0 when every target
# is met, 1 otherwise.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init git

# One server script: "slow" answers 200 after a delay, "hang" accepts and
# never answers. Each writes its port to a file once it listens.
cat >"$tmp/server.py" <<'PY'
import socket, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
mode, portfile = sys.argv[1], sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
if mode == "hang":
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
    open(portfile, "w").write(str(s.getsockname()[1]))
    held = []
    while True:
        c, _ = s.accept(); held.append(c)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
srv = S(("127.0.0.1", 0), H)
open(portfile, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
serve() { # mode name [delay]; the port lands in $tmp/name.port
    bench_bg python3 "$tmp/server.py" "$1" "$tmp/$2.port" "${3:-0}" >/dev/null 2>&1
}
port() {
    for _ in $(seq 1 100); do [[ -s $tmp/$1.port ]] && break; sleep 0.05; done
    cat "$tmp/$1.port"
}
serve slow slow 0.3
serve slow fast 0
serve hang hang
slow=$(port slow)
fast=$(port fast)
hang=$(port hang)

# A repository per scenario, clean, with its config committed.
repo() { # name config-text
    local d=$tmp/$1
    mkdir "$d" && git -C "$d" init -q -b main && git -C "$d" config gc.auto 0
    printf '%s\n' "$2" >"$d/release-sentinel.toml"
    git -C "$d" add -A
    git -C "$d" -c user.name=bench -c user.email=bench@example.invalid commit -q -m config
    echo "$d"
}

apis=""
for i in 1 2 3 4 5; do
    apis+="[[health.api]]
name = \"slow$i\"
url = \"http://127.0.0.1:$slow/$i\"
"
done
five=$(repo five "$apis")
hung=$(repo hung "[[health.disk]]
path = \"/\"
[health.memory]
[[health.api]]
name = \"hung\"
url = \"http://127.0.0.1:$hang/\"
[[health.api]]
name = \"fast\"
url = \"http://127.0.0.1:$fast/\"")
procs=$(repo procs "[[health.process]]
name = \"rs-bench-sleeper\"")


# 1. Five 300 ms APIs, and 4. the peak memory of the same run.
echo "1. five API checks, each answering after 300 ms"
(cd "$five" && bench_time -w 1 -n 10 -m 5 :: "whole gate" -- "$bin" --env dev --version v1.0.0)
med=$(bench_get "whole gate" ms) peak=$(bench_get "whole gate" kib)
verdict "$(awk -v m="$med" 'BEGIN { print (m <= 390) }')"
echo "   whole gate: median ${med} ms; target <= 390 ms  $v"
verdict $((peak < 25 * 1024))
echo "4. peak memory, five API checks: $(mib "$peak") MiB (${peak} KiB); target < 25 MiB  $v"

# 2. A hung dependency with the default timeout and attempts.
echo "2. a hung dependency (timeout 3 s, 3 attempts) beside a fast one"
mkdir "$tmp/kept"
(cd "$hung" && bench_time -w 0 -n 1 -m 0 -k "$tmp/kept" :: "hung gate" -x any -- "$bin" --env dev --version v1.0.0 --format json)
ms=$(bench_get "hung gate" ms)
read -r hung_status fast_ms < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
rows = {c["id"]: c for c in d["checks"]}
print(rows["api:hung"]["status"], int(rows["api:fast"]["duration_ms"]))' "$tmp/kept/1.1.out")
verdict "$(awk -v m="$ms" 'BEGIN { print (m <= 19500) }')"
echo "   whole gate: ${ms} ms, hung row ${hung_status}; budget 19500 ms  $v"
verdict $((fast_ms < 1000))
echo "   fast row beside it: ${fast_ms} ms; target < 1000 ms  $v"
[[ $hung_status == CRIT ]] || { echo "   the hung row should be CRIT"; bench_fail=1; }

# 3. The process check among 2,000 more processes.
cp "$(command -v sleep)" "$tmp/sleeper"
for _ in $(seq 1 2000); do bench_bg "$tmp/sleeper" 300 >/dev/null 2>&1; done
cp "$(command -v sleep)" "$tmp/rs-bench-sleeper"
bench_bg "$tmp/rs-bench-sleeper" 300 >/dev/null 2>&1
count=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
rm -rf "$tmp/kept" && mkdir "$tmp/kept"
echo "3. process check on a host with $count processes"
(cd "$procs" && bench_time -w 0 -n 5 -m 0 -k "$tmp/kept" :: "process gate" -- "$bin" --env dev --version v1.0.0 --format json)
med=$(python3 -c '
import json, statistics, sys
rows = [[c for c in json.load(open(p))["checks"] if c["id"] == "process:rs-bench-sleeper"][0] for p in sys.argv[1:]]
assert all(r["status"] == "OK" for r in rows), rows
print(statistics.median(r["duration_ms"] for r in rows))' "$tmp"/kept/1.*.out)
verdict "$(awk -v m="$med" 'BEGIN { print (m < 30) }')"
echo "   row duration: median ${med} ms of 5; target < 30 ms  $v"
bench_result
