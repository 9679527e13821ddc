#!/usr/bin/env bash
# Times `v6deploy install` of the whole cluster (etcd, the control plane, containerd, kubelet,
# kube-proxy, the pod network, the addons: real Kubernetes 1.20.2 from the lab bundle) on the
# local IPv6 lab: 3 and 10 machines, the first run on fresh machines (and a fresh PKI) and a
# run that changes nothing, each the median of 3 runs; and where the time goes (the recap's
# `time:` line, wall time per step over all hosts, of each size's last runs).
# Writes bench/INSTALL-RESULTS.md. Root only (the lab boots machines); a release build.
#
#   BENCH_SIZES="3 10"   lab sizes
#   BENCH_RUNS=3         runs per measurement
#
# The labs are named inb<N> and live in a temporary project directory; both are removed at
# the end, also when the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
sizes=${BENCH_SIZES:-3 10}
runs=${BENCH_RUNS:-3}

if [[ $(id -u) -ne 0 ]]; then
  echo "bench: the lab needs root" >&2
  exit 1
fi
scripts/setup-deps.sh --lab
cargo build --release --quiet --bin v6deploy
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/v6deploy")

project=$(mktemp -d /tmp/v6deploy-bench.XXXXXX)
labs=()
cleanup() {
  cd "$project"
  for lab in "${labs[@]}"; do "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || echo "bench: could not remove lab $lab" >&2; done
  cd / && rm -rf "$project"
}
trap cleanup EXIT
cd "$project"

now() { date +%s.%N; }

# Runs install on lab $1; prints the seconds it took. $2: "first" (something must change) or
# "none" (nothing may change).
timed_install() {
  local lab=$1 expect=$2 start end log=$project/install.log
  start=$(now)
  if ! "$bin" -i "inventories/lab-$lab.yaml" install >"$log" 2>&1; then
    echo "bench: install on lab $lab failed:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  end=$(now)
  local changed
  changed=$(sed -n '/^RECAP$/,/^$/p' "$log" | grep -c ' changed ' || true)
  if [[ $expect == none && $changed -ne 0 ]]; then
    echo "bench: the no-change run on lab $lab changed $changed hosts:" >&2
    sed -n '/^RECAP$/,/^$/p' "$log" >&2
    exit 1
  fi
  grep '^time:' "$log" >"$project/steps-$lab-$expect" || true
  awk -v end="$end" -v start="$start" 'BEGIN { print end - start }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fmt() { printf '%.2f' "$1"; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A first_runs none_runs steps_first steps_none
for size in $sizes; do
  lab=inb$size
  labs+=("$lab")
  first=()
  none=()
  for ((run = 1; run <= runs; run++)); do
    # Fresh machines and a fresh PKI for every first run.
    "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || true
    rm -rf "certs/$lab"
    "$bin" lab up --name "$lab" --hosts "$size" --quiet >/dev/null
    first+=("$(timed_install "$lab" first)")
    none+=("$(timed_install "$lab" none)")
    echo "bench: $size machines, run $run: first $(fmt "${first[-1]}") s, no change $(fmt "${none[-1]}") s" >&2
  done
  first_runs[$size]="${first[*]}"
  none_runs[$size]="${none[*]}"
  steps_first[$size]=$(cat "$project/steps-$lab-first")
  steps_none[$size]=$(cat "$project/steps-$lab-none")
done

{
  echo "# install on the lab: timings"
  echo
  echo "Written by \`bench/install.sh\` (release build). Each figure is the median of $runs runs"
  echo "of \`v6deploy -i inventories/lab-inbN.yaml install\`, wall clock, from the command's start to"
  echo "its exit. *First*: fresh lab machines and a fresh PKI (every certificate made): the PKI,"
  echo "uploading the bundle ($(du -cm ".lab/${labs[0]}/bundle/bin" ".lab/${labs[0]}/bundle/cni" ".lab/${labs[0]}/bundle/images" | tail -1 | cut -f1) MB of binaries, CNI plugins and images) to every host, every"
  echo "configuration file and certificate, forming the 3-member etcd cluster, starting the"
  echo "control plane (first three machines: control plane + etcd + worker; the others workers),"
  echo "containerd, the kubelets (registered) and kube-proxy on every machine, each with its health"
  echo "check, importing the images, the host-routes pod network and the addons. *No change*: the"
  echo "same command again at once; every host reports ok, changed=0, nothing restarts, and every"
  echo "service's health check is made again."
  echo
  echo "| machines | first install (s) | no-change install (s) | first, each run | no change, each run |"
  echo "| ---: | ---: | ---: | --- | --- |"
  for size in $sizes; do
    read -ra f <<<"${first_runs[$size]}"
    read -ra n <<<"${none_runs[$size]}"
    each_f=$(for x in "${f[@]}"; do fmt "$x"; echo -n " "; done)
    each_n=$(for x in "${n[@]}"; do fmt "$x"; echo -n " "; done)
    echo "| $size | $(fmt "$(median "${f[@]}")") | $(fmt "$(median "${n[@]}")") | ${each_f% } | ${each_n% } |"
  done
  echo
  echo "Where the time goes (wall time of each step over all hosts, the last run of each size):"
  echo
  for size in $sizes; do
    echo "- $size machines, first: ${steps_first[$size]#time: }"
    echo "- $size machines, no change: ${steps_none[$size]#time: }"
  done
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r);"
  echo "v6deploy $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo ' (with local changes)'), $(date -u +%Y-%m-%d)."
  echo "The lab machines share this machine's cores with the tool and with whatever else runs:"
  echo "load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)."
} >"$repo/bench/INSTALL-RESULTS.md"
cat "$repo/bench/INSTALL-RESULTS.md"
