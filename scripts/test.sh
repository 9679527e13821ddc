#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test, including the ones
# against the real IPv6 lab (those need root; without root they are skipped, and say so).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
if [[ $(id -u) -eq 0 ]]; then
  export V6DEPLOY_LAB_TESTS=1
else
  echo "test: not root: the lab tests (real sshd, systemd, etcd in network namespaces) will be skipped" >&2
fi
cargo build --quiet --bins
cargo test --no-fail-fast -- --test-threads="${V6DEPLOY_TEST_THREADS:-4}"
tests/validate-manifests.sh
