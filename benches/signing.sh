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
# warmups. Wall time is the whole process, spawn included, timed by
# benches/lib.sh's timer. The child gets only PATH and HOME (and the
# passphrase).
#
# Usage: benches/signing.sh        (exit 0 = PASS, 1 = FAIL)
#        BIN=path/to/release-sentinel benches/signing.sh   (a binary already built)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=100 WARMUP=10 TARGET_MS=5

bench_init git ssh-keygen
mkdir "$tmp/repo" "$tmp/keys"

bench_git_env
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
run "$bin" --env prod --version v1.2.3 \
  --evidence "$tmp/check" --sign-key "$tmp/keys/plain" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out" >&2; echo "the signed run is not SAFE" >&2; exit 1; }
ssh-keygen -Y verify -f "$tmp/keys/allowed" -I bench@example.invalid -n release-sentinel \
  -s "$tmp/check/SHA256SUMS.sig" <"$tmp/check/SHA256SUMS" >/dev/null ||
  { echo "ssh-keygen -Y verify refused the tool's signature" >&2; exit 1; }

gate=("$bin" --env prod --version v1.2.3 --evidence)
echo "signing: release-sentinel --env prod --version v1.2.3 --evidence DIR [--sign-key KEY]"
bench_time -w "$WARMUP" -n "$RUNS" -m 0 \
  :: unsigned -- "${gate[@]}" "$tmp/e-unsigned" \
  :: signed -- "${gate[@]}" "$tmp/e-signed" --sign-key "$tmp/keys/plain" \
  :: "ssh-keygen -Y sign" -b "rm -f '$tmp/check/SHA256SUMS.sig'" -- \
  ssh-keygen -q -Y sign -n release-sentinel -f "$tmp/keys/plain" "$tmp/check/SHA256SUMS"
echo "  for information, opening the key runs bcrypt-pbkdf (slow on purpose):"
RUN_ENV=(RS_SIGN_PASSPHRASE=bench-passphrase)
bench_time -w 0 -n 10 -m 0 :: "signed, passphrase key" -- "${gate[@]}" "$tmp/e-locked" --sign-key "$tmp/keys/locked"
added=$(awk -v a="$(bench_get signed ms)" -v b="$(bench_get unsigned ms)" 'BEGIN { printf "%.2f", a - b }')
verdict "$(awk -v a="$added" -v t="$TARGET_MS" 'BEGIN { print (a < t) }')"
echo "  added by signing: $added ms  target < $TARGET_MS ms  $v"
bench_result
