#!/usr/bin/env bash
# Kubernetes' own conformance suite (the e2e [Conformance] tests of the lab's Kubernetes
# 1.20.2) against the lab cluster v6deploy installed, as root:
#
#   scripts/conformance.sh [--focus REGEX] [--skip REGEX] [--nodes N] [--reimport]
#
#   --focus REGEX  run only the conformance tests matching REGEX (Go syntax), e.g.
#                  '\[sig-network\]'; without it the whole suite runs and docs/conformance.md
#                  gets this run's table (the section of the lab's pod network)
#   --skip REGEX   leave out the tests matching REGEX
#   --nodes N      ginkgo processes for the parallel pass (default 4); [Serial] and
#                  [Disruptive] tests run afterwards in a pass of their own
#   --reimport     import the test images on every machine again (after a rebuild)
#   V6DEPLOY_LAB   the lab (default: lab); it must be up and installed (scripts/demo.sh)
#   V6DEPLOY_PROJECT  the directory holding its inventories/, certs/ and .lab/ (default: this
#                  checkout); V6DEPLOY_BIN the v6deploy binary (default: target/debug/v6deploy)
#
# The first run builds e2e.test, ginkgo and agnhost from the cached Kubernetes tree and the
# test images (scripts/conformance/build-*.sh) into /var/cache/v6deploy/lab/conformance-1.20.2
# (about 8 minutes), then imports the images into containerd on every machine. The JUnit
# reports stay in .lab/NAME/conformance/RUN/. Ends with `N passed, N failed, N skipped`;
# exits 1 when a test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
focus='' skip='' nodes=4 reimport=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --focus) focus=${2:?--focus needs a regular expression}; shift 2 ;;
    --skip) skip=${2:?--skip needs a regular expression}; shift 2 ;;
    --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
    --reimport) reimport=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "conformance: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "conformance: --nodes wants a positive number, not '$nodes'" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
  echo "conformance: needs root (it imports images into the lab's machines): run it as root" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*" >&2; }
lab=${V6DEPLOY_LAB:-lab}
here=$(realpath "${V6DEPLOY_PROJECT:-$checkout}")
if [[ $lab == lab ]]; then inventory=$here/inventories/lab.yaml; else inventory=$here/inventories/lab-$lab.yaml; fi
kubeconfig=$here/certs/$lab/admin.conf
kubectl=$here/.lab/$lab/bundle/bin/kubectl
v6deploy=$(realpath "${V6DEPLOY_BIN:-${CARGO_TARGET_DIR:-target}/debug/v6deploy}")
for file in "$inventory" "$kubeconfig" "$kubectl" "$v6deploy"; do
  if [[ ! -e $file ]]; then
    echo "conformance: $file is missing: make and install the lab first (scripts/demo.sh, with V6DEPLOY_LAB=$lab)" >&2
    exit 1
  fi
done
k=("$kubectl" --kubeconfig "$kubeconfig")
domain=$(sed -n 's/^  domain: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$inventory" | head -n 1)
domain=${domain:-cluster.local}
network=$(sed -n 's/^  pod_network: *//p' "$inventory" | head -n 1)
network=${network:-host-routes}

k8s=/var/cache/v6deploy/lab/kubernetes-1.20.2
cache=/var/cache/v6deploy/lab/conformance-1.20.2
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$cache"

step "the e2e suite (e2e.test, ginkgo, agnhost) from the Kubernetes tree, cached in $cache"
scripts/conformance/build-suite.sh "$k8s" "$cache"
step "the test images, cached in $cache/images"
scripts/conformance/build-images.sh "$k8s" /var/cache/v6deploy/lab/images-v3 "$cache" "$mirror"

list=$cache/conformance-tests.txt
if [[ ! -s $list ]]; then
  # A dry run needs no cluster; its JUnit report names every conformance test.
  dry=$(mktemp -d)
  "$cache/bin/e2e.test" --ginkgo.dryRun --ginkgo.focus='\[Conformance\]' --ginkgo.noColor --provider=local \
    --report-dir="$dry" >"$dry/out.txt" 2>&1
  python3 -c 'import sys, xml.etree.ElementTree as E
names = {c.get("name") for c in E.parse(sys.argv[1]).getroot().iter("testcase") if c.find("skipped") is None}
print("\n".join(sorted(names)))' "$dry/junit_01.xml" >"$list.partial"
  mv "$list.partial" "$list"
  rm -rf "$dry"
fi
echo "$(wc -l <"$list") conformance tests in the suite" >&2

step "importing the test images on every machine"
machines=$(sed -n 's/^ *- *address: *"\{0,1\}2001:db8:[0-9a-f:]*::\([0-9a-f]*\)"\{0,1\}$/\1/p' "$inventory")
[[ -n $machines ]] || { echo "conformance: no host addresses found in $inventory" >&2; exit 1; }
ctr="/usr/local/bin/ctr --address /run/containerd/containerd.sock -n k8s.io"
for machine in $machines; do
  present=$("$v6deploy" lab exec --name "$lab" "$machine" -- sh -c "$ctr images ls -q" 2>/dev/null)
  for tar in "$cache"/images/*.tar; do
    ref=$(tar -xOf "$tar" manifest.json | sed 's/.*"RepoTags":\["\([^"]*\)".*/\1/')
    if ! $reimport && grep -qxF "$ref" <<<"$present"; then continue; fi
    echo "$machine: $ref" >&2
    "$v6deploy" lab exec --name "$lab" "$machine" -- sh -c "$ctr images import --snapshotter native -" <"$tar" >/dev/null 2>&1 ||
      { echo "conformance: importing $tar on machine $machine failed" >&2; exit 1; }
  done
done

run=$here/.lab/$lab/conformance/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run"
# Every registry the suite names points at the lab's images.
cat >"$run/repo-list.yaml" <<YAML
dockerLibraryRegistry: v6deploy.lab/e2e
e2eRegistry: v6deploy.lab/e2e
e2eVolumeRegistry: v6deploy.lab/e2e
promoterE2eRegistry: v6deploy.lab/e2e
buildImageRegistry: v6deploy.lab/e2e
gcRegistry: v6deploy.lab/e2e
sigStorageRegistry: v6deploy.lab/e2e
gcAuthenticatedRegistry: v6deploy.lab/e2e
privateRegistry: v6deploy.lab/e2e
sampleRegistry: v6deploy.lab/e2e
YAML
export KUBE_TEST_REPO_LIST=$run/repo-list.yaml
conformance='\[Conformance\]'
suite=("$cache/bin/e2e.test" --kubeconfig="$kubeconfig" --provider=local --dns-domain="$domain"
  --kubectl-path="$kubectl" --container-runtime=remote
  --container-runtime-endpoint=unix:///run/containerd/containerd.sock --container-runtime-process-name=containerd
  --disable-log-dump=true --non-blocking-taints=node-role.kubernetes.io/control-plane,node-role.kubernetes.io/master)
pass() { # NAME NODES FOCUS SKIP
  local name=$1 n=$2 pass_focus=$3 pass_skip=$4
  mkdir -p "$run/$name"
  step "$name pass: ginkgo -nodes=$n, focus '$pass_focus'${pass_skip:+, skip '$pass_skip'} (log: $run/$name/e2e.log)"
  local started=$SECONDS status=0
  "$cache/bin/ginkgo" -nodes="$n" -noColor -focus="$pass_focus" ${pass_skip:+-skip="$pass_skip"} "${suite[0]}" -- \
    "${suite[@]:1}" --report-dir="$run/$name" >"$run/$name/e2e.log" 2>&1 || status=$?
  echo "$name pass: exit $status after $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s" >&2
  grep -E '^(Ran |FAIL!|SUCCESS!|\[Fail\] )' "$run/$name/e2e.log" >&2 || true
}
started=$SECONDS
serial='\[Serial\]|\[Disruptive\]'
# [Conformance] ends every conformance test's name, so "F.*\[Conformance\]" is "F and conformance".
if [[ -n $focus ]]; then
  parallel_focus="($focus).*$conformance"
  serial_focus="($focus).*($serial).*$conformance|($serial).*($focus).*$conformance"
else
  parallel_focus=$conformance serial_focus="($serial).*$conformance"
fi
pass parallel "$nodes" "$parallel_focus" "$serial${skip:+|$skip}"
pass serial 1 "$serial_focus" "$skip"
wall=$((SECONDS - started))

step "results (JUnit reports in $run)"
args=(--reports "$run" --list "$list" --wall "$wall" --network "$network")
[[ -n $focus ]] && args+=(--focus "$focus")
[[ -n $skip ]] && args+=(--skip "$skip")
[[ -z $focus && -z $skip ]] && args+=(--doc "$checkout/docs/conformance.md")
python3 scripts/conformance/report.py "${args[@]}"
