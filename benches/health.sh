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
# 2,000 sleepers. Exit 0 when every target is met, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/release-sentinel

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    pkill -f "$tmp/sleeper" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/home"

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
    python3 "$tmp/server.py" "$1" "$tmp/$2.port" "${3:-0}" >/dev/null 2>&1 &
    pids+=($!)
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
run() { (cd "$1" && env -i PATH="$PATH" HOME="$tmp/home" "$bin" --env dev --version v1.0.0 "${@:2}"); }

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

fail=0
# verdict OK-FLAG: sets $v to PASS or FAIL (and remembers a failure). Not
# called in a subshell, so that the failure is not lost.
verdict() { if [[ $1 == 1 ]]; then v=PASS; else v=FAIL; fail=1; fi; }

# 1. Five 300 ms APIs.
run "$five" >/dev/null # warm up
times=$(python3 - "$five" "$bin" "$tmp/home" <<'PY'
import os, subprocess, sys, time
repo, binary, home = sys.argv[1:4]
env = {"PATH": os.environ["PATH"], "HOME": home}
out = []
for _ in range(10):
    t = time.perf_counter()
    r = subprocess.run([binary, "--env", "dev", "--version", "v1.0.0"], cwd=repo, env=env, stdout=subprocess.DEVNULL)
    out.append((time.perf_counter() - t) * 1000)
    if r.returncode != 0:
        sys.exit("the gate exited %d" % r.returncode)
out.sort()
print("%.0f %.0f" % (out[len(out) // 2], out[-1]))
PY
)
read -r med worst <<<"$times"
echo "1. five API checks, each answering after 300 ms"
verdict $((med <= 390))
echo "   whole gate: median ${med} ms, slowest ${worst} ms; target <= 390 ms  $v"

# 4. Peak memory of the same run.
peak=0
for _ in 1 2 3 4 5; do
    kb=$( { /usr/bin/time -f %M env -i PATH="$PATH" HOME="$tmp/home" sh -c "cd '$five' && '$bin' --env dev --version v1.0.0 >/dev/null"; } 2>&1 | tail -n1)
    ((kb > peak)) && peak=$kb
done
verdict $((peak < 25 * 1024))
echo "4. peak memory, five API checks: $((peak / 1024)) MiB (${peak} KiB); target < 25 MiB  $v"

# 2. A hung dependency with the default timeout and attempts.
start=$(date +%s%N)
json=$(run "$hung" --format json || true)
ms=$((($(date +%s%N) - start) / 1000000))
read -r hung_status fast_ms <<<"$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = {c["id"]: c for c in d["checks"]}
print(rows["api:hung"]["status"], int(rows["api:fast"]["duration_ms"]))')"
echo "2. a hung dependency (timeout 3 s, 3 attempts) beside a fast one"
verdict $((ms <= 19500))
echo "   whole gate: ${ms} ms, hung row ${hung_status}; budget 19500 ms  $v"
verdict $((fast_ms < 1000))
echo "   fast row beside it: ${fast_ms} ms; target < 1000 ms  $v"
[[ $hung_status == CRIT ]] || { echo "   the hung row should be CRIT"; fail=1; }

# 3. The process check among 2,000 more processes.
cp "$(command -v sleep)" "$tmp/sleeper"
for _ in $(seq 1 2000); do "$tmp/sleeper" 300 >/dev/null 2>&1 & done
cp "$(command -v sleep)" "$tmp/rs-bench-sleeper"
"$tmp/rs-bench-sleeper" 300 >/dev/null 2>&1 &
pids+=($!)
count=$(ls /proc | grep -c '^[0-9]' || true)
durations=()
for _ in 1 2 3 4 5; do
    d=$(run "$procs" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = [c for c in d["checks"] if c["id"] == "process:rs-bench-sleeper"][0]
assert r["status"] == "OK", r
print(r["duration_ms"])')
    durations+=("$d")
done
med=$(printf '%s\n' "${durations[@]}" | sort -n | sed -n 3p)
echo "3. process check on a host with $count processes"
verdict "$(python3 -c "print(int($med < 30))")"
echo "   row duration: median ${med} ms of 5; target < 30 ms  $v"

if ((fail)); then echo "RESULT: FAIL"; exit 1; fi
echo "RESULT: PASS"
