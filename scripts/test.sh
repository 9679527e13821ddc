#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test. The tests against the
# real IPv6 lab are `#[ignore]`d (they boot machines and need root): as root this runs them too
# (`--include-ignored`); otherwise `cargo test` reports them as ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cargo build --quiet --bins
if [[ $(id -u) -eq 0 ]]; then
  cargo test --no-fail-fast -- --include-ignored --test-threads="${V6DEPLOY_TEST_THREADS:-4}"
else
  echo "test: not root: the lab tests (real sshd, systemd, etcd in network namespaces) are ignored; run this as root to include them" >&2
  cargo test --no-fail-fast -- --test-threads="${V6DEPLOY_TEST_THREADS:-4}"
fi
tests/validate-manifests.sh
