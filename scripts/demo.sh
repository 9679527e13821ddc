#!/usr/bin/env bash
# README's first command. As root, in a clone of this repository: installs the Debian
# packages the lab needs when they are missing, builds v6deploy, creates the local IPv6 lab
# (3 machines, with Kubernetes and the network addons built from source once and cached) and
# installs onto it (flannel, CoreDNS and NodeLocal DNSCache included); ends
# with the recap and what `kubectl get nodes -o wide` and `kubectl get pods -A -o wide` show
# from this machine. Idempotent: a second run leaves the lab as it is and changes nothing.
#
#   V6DEPLOY_LAB=NAME   lab name (default: lab; inventory inventories/lab.yaml, or lab-NAME.yaml)
#   V6DEPLOY_HOSTS=N    machines (default: 3)
#
# `target/debug/v6deploy lab down` (with --name NAME for another lab) removes the lab.
set -euo pipefail
cd "$(dirname "$0")/.."

lab=${V6DEPLOY_LAB:-lab}
hosts=${V6DEPLOY_HOSTS:-3}
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: the lab boots machines with systemd-nspawn and needs root: run it as root (or: sudo $0)" >&2
  exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "demo: cargo not found: install Rust (https://rustup.rs, or Debian's cargo package), then run $0 again" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*" >&2; }

step "Debian packages for the lab"
scripts/setup-deps.sh --lab

step "cargo build"
cargo build --quiet --bin v6deploy
bin=$(realpath "${CARGO_TARGET_DIR:-target}/debug/v6deploy")

step "v6deploy lab up --name $lab --hosts $hosts"
"$bin" lab up --name "$lab" --hosts "$hosts" --quiet

if [[ $lab == lab ]]; then inventory=inventories/lab.yaml; else inventory=inventories/lab-$lab.yaml; fi
echo "(remove the lab later with: $bin lab down --name $lab)" >&2
step "v6deploy -i $inventory install"
"$bin" -i "$inventory" install

kubectl=(".lab/$lab/bundle/bin/kubectl" --kubeconfig "certs/$lab/admin.conf")
step "waiting for the nodes to be Ready"
"${kubectl[@]}" wait --for=condition=Ready node --all --timeout=180s >/dev/null
step "a demo workload: the lab's busybox image on every node (DaemonSet v6deploy-demo, HTTP on 8080)"
"${kubectl[@]}" apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: v6deploy-demo, namespace: default}
spec:
  selector: {matchLabels: {app: v6deploy-demo}}
  template:
    metadata: {labels: {app: v6deploy-demo}}
    spec:
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      containers:
        - name: httpd
          image: v6deploy.lab/busybox:1.35
          imagePullPolicy: Never
          command: ["/bin/sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
YAML
"${kubectl[@]}" rollout status daemonset/v6deploy-demo --timeout=180s >/dev/null
step "kubectl get nodes -o wide (from this machine, over IPv6)"
"${kubectl[@]}" get nodes -o wide
step "kubectl get pods -A -o wide"
"${kubectl[@]}" get pods -A -o wide
if grep -q '^  coredns:' "$inventory"; then
  pod=$("${kubectl[@]}" get pods -l app=v6deploy-demo -o jsonpath='{.items[0].metadata.name}')
  nodelocal=$(sed -n 's/^  nodelocaldns: "\(.*\)"$/\1/p' "$inventory" | head -n 1)
  step "a DNS answer from a pod (its resolv.conf names NodeLocal DNSCache at $nodelocal)"
  "${kubectl[@]}" exec "$pod" -- nslookup -type=AAAA kubernetes.default.svc.cluster.local
else
  echo "(no DNS answer to show: the lab was made without the network addons' images, see 'lab up' above)" >&2
fi
