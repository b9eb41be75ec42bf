# shellcheck shell=bash
# benches/lib.sh: what every bench shares. Sourced by benches/*.sh, never
# run. It ignores what a bench measures: each script builds its fixture,
# asserts what its run must show and judges its targets itself.
#
#   bench_init [TOOL...]  $root, $bin and $tmp: the release binary (BIN=
#                  names one already built; else `cargo build --release
#                  --locked` into CARGO_TARGET_DIR, or target/), a temporary
#                  folder with home/ in it, removed on exit with every
#                  process bench_bg started. Each TOOL must be on PATH.
#   run CMD...     CMD with only PATH, HOME=$tmp/home and RUN_ENV's
#                  NAME=VALUE words in its environment.
#   bench_time ... the one timer (below): wall time, CPU time and peak RSS
#                  of whole processes, spawn included, over N runs.
#   bench_get LABEL FIELD  a figure the last bench_time printed.
#   verdict OK     sets $v to PASS (OK is 1) or FAIL, remembering a failure;
#                  bench_result prints RESULT and exits 0 or 1.
#   mib KIB, bench_git_env, bench_small_repo DIR, bench_bg CMD..., free_port,
#   bench_http_dir DIR, bench_prometheus CONFIG: fixtures' parts.

RUN_ENV=()
bench_pids=()
bench_fail=0
v=

# The exit trap: stop what bench_bg started, then remove the folder.
bench_exit() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -n ${tmp:-} ]] && rm -rf "$tmp"
  return 0
}

bench_init() {
  local t
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  for t in python3 "$@"; do
    command -v "$t" >/dev/null ||
      { echo "$t is needed (Debian: apt-get install -y --no-install-recommends $t, or run .ci/deps)" >&2; exit 1; }
  done
  if [[ -z ${BIN:-} ]]; then
    (cd "$root" && cargo build --release --locked --quiet)
  fi
  bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/release-sentinel}
  [[ -x $bin ]] || { echo "no binary at $bin" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap bench_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir "$tmp/home"
}

run() { env -i PATH="$PATH" HOME="$tmp/home" "${RUN_ENV[@]}" "$@"; }

# Starts CMD in the background; the exit trap stops it.
bench_bg() {
  "$@" &
  bench_pids+=($!)
}

verdict() {
  # shellcheck disable=SC2034 # $v is for the sourcing script
  if [[ $1 == 1 ]]; then v=PASS; else v=FAIL; bench_fail=1; fi
}

bench_result() {
  if ((bench_fail)); then echo "RESULT: FAIL"; exit 1; fi
  echo "RESULT: PASS"
  exit 0
}

# The fixtures' git: same identities and dates every time, no user or
# system config.
bench_git_env() {
  export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 \
    GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid \
    GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid \
    GIT_AUTHOR_DATE=2024-01-01T12:00:00Z GIT_COMMITTER_DATE=2024-01-01T12:00:00Z
}

# A small repository at DIR: 20 files, three commits tagged v0.1.0..v0.3.0
# on main, clean. No background gc: it would race the clean-up and the
# timings.
bench_small_repo() {
  local minor n=0
  bench_git_env
  git init -q -b main "$1"
  (
    cd "$1" || exit 1
    git config gc.auto 0
    printf 'target/\n' >.gitignore
    for minor in 1 2 3; do
      printf '# demo\n\nrelease 0.%s.0\n' "$minor" >README.md
      for _ in 1 2 3 4 5 6; do
        n=$((n + 1))
        printf 'pub fn f%02d() -> u32 {\n    %d\n}\n' "$n" "$n" >"mod_$(printf %02d "$n").rs"
      done
      export GIT_AUTHOR_DATE="2024-01-0${minor}T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0${minor}T12:00:00Z"
      git add -A && git commit -q -m "release 0.$minor.0" && git tag "v0.$minor.0"
    done
    [[ -z $(git status --porcelain) ]] || { echo "fixture is not clean" >&2; exit 1; }
  )
}

# KiB as MiB with one decimal.
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Serves DIR over HTTP on 127.0.0.1; the port lands in $http_port.
bench_http_dir() {
  http_port=$(free_port)
  # shellcheck disable=SC2016 # the inner shell expands them
  bench_bg sh -c 'cd "$1" && exec python3 -m http.server "$2" --bind 127.0.0.1 >/dev/null 2>&1' sh "$1" "$http_port"
}

# Starts Prometheus with CONFIG on 127.0.0.1 and waits until it is ready;
# the port lands in $prom_port, its log in $tmp/prometheus.log.
bench_prometheus() {
  prom_port=$(free_port)
  bench_bg prometheus --config.file="$1" --storage.tsdb.path="$tmp/prometheus-data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "Prometheus did not start:" >&2
  tail "$tmp/prometheus.log" >&2
  exit 1
}

# The one timer.
#
#   bench_time [-w WARMUP] [-n RUNS] [-m RSS_RUNS] [-k DIR] \
#     :: LABEL [-x CODE|any] [-b SH] [-a SH] -- ARGV... [:: LABEL ... -- ARGV...]
#
# Runs each command in the current folder, in run's cleared environment
# (only PATH, HOME and RUN_ENV), stdin, stdout and stderr on /dev/null, the
# commands taking turns run by run (the order reversed every other round),
# so that a load that comes and goes on the machine falls on all alike.
# Each run is one process waited for with wait4: wall time from before the
# spawn to its end, user + system CPU time from its rusage. Peak RSS comes
# from RSS_RUNS more runs of each (default 5, 0 for none) under GNU time
# (%M): a child spawned by python3 carries python3's own peak RSS from
# before its exec, which GNU time's small fork does not. -x: the exit code
# every run must have (default 0); -b and -a: a shell command run before
# and after each run, untimed (-a must succeed); -k DIR keeps each timed
# run's stdout as DIR/G.R.out (command G, run R, from 1). Prints, for each
# command, the median wall time (p90, min), the median CPU time, the
# largest peak RSS and the ratio of its median to the first command's;
# bench_get LABEL FIELD reads them back (FIELD: ms, p90, min, cpu, kib; the
# last figures of a LABEL).
bench_time() {
  run python3 -c "$bench_timer_py" "$tmp/bench_time.tsv" "$@"
}

bench_get() {
  local field
  case $2 in
    ms) field=2 ;; p90) field=3 ;; min) field=4 ;; cpu) field=5 ;; kib) field=6 ;;
    *) echo "bench_get: no field $2" >&2; exit 1 ;;
  esac
  awk -F'\t' -v l="$1" -v f="$field" '$1 == l { x = $f; found = 1 } END { if (found) print x; exit !found }' \
    "$tmp/bench_time.tsv" || { echo "bench_get: no figures for $1" >&2; exit 1; }
}

# shellcheck disable=SC2016 # Python, not shell
bench_timer_py='
import math, os, statistics, subprocess, sys, time
out, args = sys.argv[1], sys.argv[2:]
warmup, runs, rss_runs, keep = 3, 10, 5, None
while args and args[0] != "::":
    flag, value, args = args[0], args[1], args[2:]
    if flag == "-w": warmup = int(value)
    elif flag == "-n": runs = int(value)
    elif flag == "-m": rss_runs = int(value)
    elif flag == "-k": keep = value
    else: sys.exit(f"bench_time: unknown option {flag}")
groups = []
while args:
    args = args[1:]
    end = args.index("::") if "::" in args else len(args)
    spec, args = args[:end], args[end:]
    g = {"label": spec[0], "code": "0", "before": None, "after": None, "ms": [], "cpu": [], "kib": []}
    i = 1
    while spec[i] != "--":
        g[{"-x": "code", "-b": "before", "-a": "after"}[spec[i]]] = spec[i + 1]
        i += 2
    g["argv"] = spec[i + 1:]
    groups.append(g)
if not groups or runs < 1:
    sys.exit("bench_time: no command, or no run")
def once(g, argv, sink):
    if g["before"]:
        subprocess.run(["sh", "-c", g["before"]], check=True)
    t = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - t) * 1000
    child.returncode = code = os.waitstatus_to_exitcode(status)
    if g["code"] != "any" and str(code) != g["code"]:
        sys.exit("bench_time: %s exited %d, not %s" % (g["label"], code, g["code"]))
    if g["after"]:
        subprocess.run(["sh", "-c", g["after"]], check=True)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000
rss = os.path.join(os.path.dirname(out), "bench_time.rss")
for r in range(warmup + runs + rss_runs):
    order = list(enumerate(groups))
    for k, g in order if r % 2 == 0 else reversed(order):
        if r >= warmup + runs:
            once(g, ["/usr/bin/time", "-q", "-f", "%M", "-o", rss, *g["argv"]], subprocess.DEVNULL)
            g["kib"].append(int(open(rss).read().split()[-1]))
            continue
        timed = r >= warmup
        sink = open(f"{keep}/{k + 1}.{r - warmup + 1}.out", "wb") if keep and timed else subprocess.DEVNULL
        wall, cpu = once(g, g["argv"], sink)
        if sink is not subprocess.DEVNULL:
            sink.close()
        if timed:
            g["ms"].append(wall)
            g["cpu"].append(cpu)
def fmt(ms):
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.2f} ms"
width = max(len(g["label"]) for g in groups)
rss_note = f"; peak RSS of {rss_runs} more under GNU time" if rss_runs else ""
print(f"  {runs} runs each after {warmup} warmups, taking turns (spawn included{rss_note}):")
first = None
with open(out, "a") as f:
    for g in groups:
        ms = sorted(g["ms"])
        med, p90 = statistics.median(ms), ms[math.ceil(0.9 * len(ms)) - 1]
        cpu, kib = statistics.median(g["cpu"]), max(g["kib"], default=0)
        peak = f", peak {kib / 1024:.1f} MiB" if kib else ""
        first = first or med
        ratio = f"  {med / first:.2f}x the first" if g is not groups[0] else ""
        label = g["label"]
        print(f"    {label:<{width}}  median {fmt(med)} (p90 {fmt(p90)}, min {fmt(ms[0])}),"
              f" CPU {fmt(cpu)}{peak}{ratio}")
        f.write(f"{label}\t{med:.3f}\t{p90:.3f}\t{ms[0]:.3f}\t{cpu:.3f}\t{kib}\n")
'
