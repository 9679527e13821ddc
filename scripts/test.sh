#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test. The tests against the
# real IPv6 lab are `#[ignore]`d (they boot machines and need root): as root this runs them too
# (`--include-ignored`); otherwise `cargo test` reports them as ignored.
#
# As root the test binaries run side by side, V6DEPLOY_TEST_JOBS at a time (default 2), the
# longest first (every lab test has a lab of its own, so they do not meet): much of a lab
# test's time is waiting (an apiserver kept down past the node grace period, pods draining,
# the e2e suite's polls). Three at a time was tried: each binary took up to 1.7 times as
# long (the installs keep both cores busy) and the e2e session-affinity test, which times a
# 10 s affinity timeout, failed under that load. Each binary
# runs its tests V6DEPLOY_TEST_THREADS at a time (default 4). The closing lines give each
# binary's time and result; the run fails if any binary failed. The logs keep every test's
# output (--nocapture): the lab tests say how long each v6deploy command and each wait took.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cargo build --quiet --bins
threads=${V6DEPLOY_TEST_THREADS:-4}
if [[ $(id -u) -ne 0 ]]; then
  echo "test: not root: the lab tests (real sshd, systemd, etcd in network namespaces) are ignored; run this as root to include them" >&2
  cargo test --no-fail-fast -- --test-threads="$threads"
  tests/validate-manifests.sh
  exit 0
fi

jobs=${V6DEPLOY_TEST_JOBS:-2}
# What cargo sets for the processes it runs (.cargo/config.toml's [env], the package's
# variables); run directly, the binaries get it here.
export V6DEPLOY_CONNECT_ONLY=${V6DEPLOY_CONNECT_ONLY:-2001:db8:0::/48}
export CARGO_PKG_NAME=v6deploy CARGO_MANIFEST_DIR=$PWD CARGO=${CARGO:-$(command -v cargo)}
CARGO_PKG_VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
export CARGO_PKG_VERSION
started=$(date +%s)
# Built first with cargo's own messages (a compile error shows here), then listed.
cargo test --no-run --quiet
binaries=$(cargo test --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["target"]["name"] + "\t" + m["executable"])')
[[ -n $binaries ]] || { echo "test: cargo built no test binary" >&2; exit 1; }
# The longest first (as a suite run on 2 cores measured them), so the last to start are short.
order="conformance node_remove ha cluster node_add reset rotate day2 network install kubernetes ssh kernel locks lab redis_moved"
rank() { local i=0; for n in $order; do [[ $n == "$1" ]] && { echo "$i"; return; }; i=$((i + 1)); done; echo 99; }
list=$(while IFS=$'\t' read -r name exe; do printf '%s\t%s\t%s\n' "$(rank "$name")" "$name" "$exe"; done <<<"$binaries" | sort -n -k1,1 | cut -f2-)
logs=$(mktemp -d /tmp/v6deploy-test.XXXXXX)
echo "test: $(wc -l <<<"$list") test binaries, $jobs at a time, $threads tests each at a time; logs in $logs"
run_one() {
  # The library's and the binary's unit tests are both named v6deploy: logs by file name.
  local name=$1 exe=$2 log=$logs/${2##*/}.log start status
  start=$(date +%s)
  status=0
  "$exe" --include-ignored --nocapture --test-threads="$threads" >"$log" 2>&1 || status=$?
  local result
  result=$(grep '^test result:' "$log" | tail -1 || true)
  printf '%s\t%s\t%s s\t%s\n' "$([[ $status -eq 0 ]] && echo ok || echo FAILED)" "$name" "$(($(date +%s) - start))" "${result:-no result (exit $status)}" | tee -a "$logs/summary"
  if [[ $status -ne 0 ]]; then
    echo "---- $name failed: each panic, then the end of its output ($log) ----"
    grep -a -A 30 "panicked at" "$log" | head -200 || true
    echo "----"
    grep -av '^test .* ok$' "$log" | tail -60
  fi
  return "$status"
}
export -f run_one
export logs threads
status=0
printf '%s\n' "$list" | xargs -P "$jobs" -d '\n' -n 1 bash -c 'IFS=$'"'"'\t'"'"' read -r name exe <<<"$1"; run_one "$name" "$exe"' _ || status=$?
echo "test: every binary ran in $(($(date +%s) - started)) s; by binary:"
sort -k3 -n -r "$logs/summary" | sed 's/^/  /'
cargo test --quiet --doc || status=1
tests/validate-manifests.sh || status=1
exit "$status"
