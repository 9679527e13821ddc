#!/usr/bin/env bash
# Renders inventories/field-report.yaml and checks every manifest under cluster/ with the
# kubernetes-validate schema checker (PyPI), strict mode (unknown fields are errors).
#
# The inventory configures Kubernetes 1.27.15; kubernetes-validate ships one schema per
# minor version, and for 1.27 that is the 1.27.0 schema, so the check runs against 1.27.0.
# kubernetes-validate is taken from PATH, or installed into a venv under the target dir.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
schema_version=1.27.0
validator_version=1.37.0
target=${CARGO_TARGET_DIR:-$root/target}

validator=$(command -v kubernetes-validate || true)
if [ -z "$validator" ]; then
  venv="$target/kubernetes-validate-$validator_version"
  if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "kubernetes-validate==$validator_version"
  fi
  validator="$venv/bin/kubernetes-validate"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --quiet -- -i inventories/field-report.yaml render -o "$out/render" >/dev/null

shopt -s nullglob
manifests=("$out"/render/cluster/*.yaml)
if [ ${#manifests[@]} -eq 0 ]; then
  echo "no manifests rendered under cluster/" >&2
  exit 1
fi
"$validator" --kubernetes-version "$schema_version" --strict --quiet "${manifests[@]}"
echo "kubernetes-validate $("$validator" --version) --kubernetes-version $schema_version --strict: ${#manifests[@]} manifests passed"
