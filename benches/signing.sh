#!/usr/bin/env bash
# benches/signing.sh: what signing adds to a gate run with --evidence.
#
# Runs `release-sentinel --env prod --version v1.2.3 --evidence DIR` in a
# small fixed repository (a config with no health checks and no required
# variables, so the run is SAFE, asserted), without and with
# `--sign-key` (an Ed25519 key made by ssh-keygen, no passphrase), the two
# interleaved so that the machine's load falls on both alike; and, beside
# them, the reference tool doing the same job on the same digest list:
# `ssh-keygen -Y sign -n release-sentinel`. Every signed record is then
# checked once by `ssh-keygen -Y verify` (asserted).
#
# A passphrase-protected key is timed too, for information only: opening
# it runs bcrypt-pbkdf (16 rounds, ssh-keygen's default), which is slow on
# purpose, and the same for ssh-keygen.
#
# Target (issue 21, "Speed"): the median of the signed runs minus the
# median of the unsigned ones under 5 ms, over 100 runs each after 10
# warmups. Wall time is the whole process, spawn included, timed by a
# python3 loop. The child gets only PATH and HOME (and the passphrase).
#
# Usage: benches/signing.sh        (exit 0 = PASS, 1 = FAIL)
#        BIN=path/to/release-sentinel benches/signing.sh   (a binary already built)
set -euo pipefail

RUNS=100 WARMUP=10 TARGET_MS=5

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/release-sentinel}
command -v ssh-keygen >/dev/null || { echo "ssh-keygen (openssh-client) is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/repo" "$tmp/keys"

export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid \
  GIT_AUTHOR_DATE=2024-01-01T12:00:00Z GIT_COMMITTER_DATE=2024-01-01T12:00:00Z
cd "$tmp/repo"
git init -q -b main
git config gc.auto 0
printf '# demo\n' >README.md
printf '[policy]\nbranches = ["main"]\n' >release-sentinel.toml
git add -A && git commit -q -m initial && git tag v1.2.2
ssh-keygen -q -t ed25519 -N '' -C bench -f "$tmp/keys/plain"
ssh-keygen -q -t ed25519 -N 'bench-passphrase' -C bench -f "$tmp/keys/locked"
printf 'bench@example.invalid %s\n' "$(cat "$tmp/keys/plain.pub")" >"$tmp/keys/allowed"

# The runs must be SAFE, and the signed record good for ssh-keygen.
env -i PATH="$PATH" HOME="$HOME" "$bin" --env prod --version v1.2.3 \
  --evidence "$tmp/check" --sign-key "$tmp/keys/plain" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out" >&2; echo "the signed run is not SAFE" >&2; exit 1; }
ssh-keygen -Y verify -f "$tmp/keys/allowed" -I bench@example.invalid -n release-sentinel \
  -s "$tmp/check/SHA256SUMS.sig" <"$tmp/check/SHA256SUMS" >/dev/null ||
  { echo "ssh-keygen -Y verify refused the tool's signature" >&2; exit 1; }

python3 - "$bin" "$tmp" "$WARMUP" "$RUNS" "$TARGET_MS" <<'EOF'
import os, statistics, subprocess, sys, time
bin, tmp, warmup, runs, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
base = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
gate = [bin, "--env", "prod", "--version", "v1.2.3", "--evidence"]
sums = os.path.join(tmp, "check", "SHA256SUMS")
cases = {
    "unsigned": (gate + [f"{tmp}/e-unsigned"], base),
    "signed": (gate + [f"{tmp}/e-signed", "--sign-key", f"{tmp}/keys/plain"], base),
    "ssh-keygen -Y sign": (["ssh-keygen", "-q", "-Y", "sign", "-n", "release-sentinel",
                            "-f", f"{tmp}/keys/plain", sums], base),
}
locked = {
    "signed, passphrase key": (gate + [f"{tmp}/e-locked", "--sign-key", f"{tmp}/keys/locked"],
                               dict(base, RS_SIGN_PASSPHRASE="bench-passphrase")),
}
def once(cmd, env):
    if cmd[0] == "ssh-keygen":
        try: os.remove(sums + ".sig")
        except FileNotFoundError: pass
    t = time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=os.path.join(tmp, "repo"), stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    t = (time.perf_counter() - t) * 1000
    if rc != 0:
        sys.exit(f"{cmd} exited {rc}")
    return t
times = {k: [] for k in cases}
for i in range(warmup + runs):
    for name, (cmd, env) in cases.items():
        t = once(cmd, env)
        if i >= warmup:
            times[name].append(t)
slow = {k: [once(*v) for _ in range(10)] for k, v in locked.items()}
med = {k: statistics.median(v) for k, v in times.items()}
added = med["signed"] - med["unsigned"]
ok = added < target
print("signing: release-sentinel --env prod --version v1.2.3 --evidence DIR [--sign-key KEY]")
print(f"  {runs} runs each after {warmup} warmups, interleaved (python3 loop, spawn included)")
for k, v in med.items():
    print(f"    {k:<22} median {v:6.2f} ms  (min {min(times[k]):.2f} ms)")
for k, v in slow.items():
    print(f"    {k:<22} median {statistics.median(v):6.2f} ms over 10 runs (bcrypt-pbkdf, for information)")
print(f"  added by signing: {added:.2f} ms  target < {target:g} ms  {'PASS' if ok else 'FAIL'}")
print(f"RESULT: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
