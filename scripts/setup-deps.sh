#!/usr/bin/env bash
# Installs what v6deploy's lab and tests need, if missing: Debian packages (systemd-nspawn,
# debootstrap, iproute2, openssl, ssh client, rpm for the test kernel package of tests/kernel.rs,
# rsync, jq, make, gcc, libc6-dev, binutils and zstd for the lab's Kubernetes build and images, tmux for the
# terminal test of tests/cli.rs) and the
# kubernetes-validate schema checker. Idempotent and quick when everything is present. `--lab`:
# only what the lab needs (the Debian packages), as scripts/demo.sh wants.
set -euo pipefail
lab_only=false
[[ ${1:-} == --lab ]] && lab_only=true

packages=(systemd-container debootstrap iproute2 openssl openssh-client rpm rsync jq zstd make gcc libc6-dev binutils tmux python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup-deps: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if $lab_only; then
  exit 0
fi

if ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "setup-deps: installing kubernetes-validate (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
  hash -r
fi
command -v kubernetes-validate >/dev/null || { echo "setup-deps: kubernetes-validate not on PATH after pip install" >&2; exit 1; }
