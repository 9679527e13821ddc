#!/usr/bin/env bash
# Times `v6deploy install` of the whole cluster (etcd, the control plane, containerd, kubelet,
# kube-proxy, flannel, CoreDNS, NodeLocal DNSCache: real Kubernetes 1.20.2 and the addons built
# from source, all from the lab bundle) on the local IPv6 lab: 3, 10 and 20 machines. For each
# run on fresh machines (and a fresh PKI): the install's wall time and peak RSS, the time from
# its start until every node is Ready and until a pod resolves a Service name through the
# cluster DNS; then a run that changes nothing (wall time, peak RSS) and `check` on the same
# lab; the memory the machines take (each machine's resident memory, from its cgroup); where the time goes (the recap's `time:` line).
# Writes bench/INSTALL-RESULTS.md, keeping the hand-written findings below its marker line.
# Root only (the lab boots machines); a release build.
#
#   BENCH_SIZES="3 10 20"   lab sizes
#   BENCH_RUNS=2            runs per size
#
# The labs are named inb<N> and live in a temporary project directory; both are removed at
# the end, also when the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
sizes=${BENCH_SIZES:-3 10 20}
runs=${BENCH_RUNS:-2}

source bench/lab-prelude.sh

project=$(mktemp -d /tmp/v6deploy-bench.XXXXXX)
labs=()
cleanup() {
  cd "$project"
  for lab in "${labs[@]}"; do [[ -d .lab/$lab ]] || continue; "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || echo "bench: could not remove lab $lab" >&2; done
  cd / && rm -rf "$project"
}
trap cleanup EXIT
cd "$project"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# The resident memory (anon, kB) of lab $1's machines, on average: each machine's processes
# are in its own cgroup v6lab/LAB/HOST of the memory controller (the machine's supervisor
# puts it there), so its memory.stat counts them and nothing else.
machine_rss_kb() {
  local lab=$1 dirs
  dirs=$(find /sys/fs/cgroup/memory -mindepth 1 -type d -path "*/v6lab/$lab/*" -prune 2>/dev/null)
  [[ -n $dirs ]] || { echo 0; return; }
  for d in $dirs; do awk '$1 == "total_rss" { print $2 }' "$d/memory.stat"; done | awk '{ s += $1; n++ } END { printf "%d", s / n / 1024 }'
}

# Runs install on lab $1 under GNU time; prints "SECONDS RSS_KB". $2: "first" (something must
# change) or "none" (nothing may change).
timed_install() {
  local lab=$1 expect=$2 start end log=$project/install.log
  start=$(now)
  if ! /usr/bin/time -o "$project/time.txt" -f '%M' "$bin" -i "inventories/lab-$lab.yaml" install >"$log" 2>&1; then
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
  echo "$(secs "$start" "$end") $(tail -1 "$project/time.txt")"
}

# kubectl against lab $1's cluster from this machine.
kc() { local lab=$1; shift; ".lab/$lab/bundle/bin/kubectl" --kubeconfig "certs/$lab/admin.conf" "$@"; }

# Seconds from $2 until every node of lab $1 is Ready (polls; gives up after 300 s).
until_nodes_ready() {
  local lab=$1 start=$2 n=$3
  for _ in $(seq 1 1500); do
    if [[ $(kc "$lab" get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l) -eq $n ]]; then secs "$start" "$(now)"; return; fi
    sleep 0.2
  done
  echo "bench: lab $lab: not every node Ready after 300 s" >&2; exit 1
}

# Seconds from $2 until a pod on lab $1 has resolved kubernetes.default through the cluster
# DNS (busybox from the bundle: the pod asks node-local-dns, which asks CoreDNS).
until_dns_answers() {
  local lab=$1 start=$2
  kc "$lab" run dnsprobe --image=v6deploy.lab/busybox:1.35 --image-pull-policy=Never --restart=Never \
    --command -- sh -c 'until nslookup kubernetes.default.svc.cluster.local >/dev/null 2>&1; do sleep 0.2; done' >/dev/null
  for _ in $(seq 1 1500); do
    if [[ $(kc "$lab" get pod dnsprobe -o 'jsonpath={.status.phase}' 2>/dev/null) == Succeeded ]]; then secs "$start" "$(now)"; kc "$lab" delete pod dnsprobe --wait=false >/dev/null; return; fi
    sleep 0.2
  done
  echo "bench: lab $lab: no pod resolved a Service name after 300 s" >&2; exit 1
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fmt() { printf '%.2f' "$1"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A first_runs ready_runs dns_runs none_runs check_runs rss_first rss_none mem_per steps_first steps_none
for size in $sizes; do
  lab=inb$size
  labs+=("$lab")
  first=() ready=() dns=() none=() checks=() rf=() rn=() mem=()
  for ((run = 1; run <= runs; run++)); do
    # Fresh machines and a fresh PKI for every first run.
    "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || true
    rm -rf "certs/$lab"
    "$bin" lab up --name "$lab" --hosts "$size" --quiet >/dev/null
    bundle_mb=$(du -cm ".lab/$lab/bundle/bin" ".lab/$lab/bundle/cni" ".lab/$lab/bundle/images" | tail -1 | cut -f1)
    start=$(now)
    read -r t rss < <(timed_install "$lab" first)
    first+=("$t"); rf+=("$rss")
    ready+=("$(until_nodes_ready "$lab" "$start" "$size")")
    dns+=("$(until_dns_answers "$lab" "$start")")
    mem+=("$(machine_rss_kb "$lab")")
    read -r t rss < <(timed_install "$lab" none)
    none+=("$t"); rn+=("$rss")
    cstart=$(now)
    "$bin" -i "inventories/lab-$lab.yaml" check >/dev/null 2>&1 || { echo "bench: check on lab $lab failed" >&2; exit 1; }
    checks+=("$(secs "$cstart" "$(now)")")
    echo "bench: $size machines, run $run: first ${first[-1]} s (nodes Ready ${ready[-1]} s, DNS ${dns[-1]} s), no change ${none[-1]} s, check ${checks[-1]} s, peak RSS $(mb "${rf[-1]}")/$(mb "${rn[-1]}") MB" >&2
  done
  first_runs[$size]="${first[*]}"; ready_runs[$size]="${ready[*]}"; dns_runs[$size]="${dns[*]}"
  none_runs[$size]="${none[*]}"; check_runs[$size]="${checks[*]}"
  rss_first[$size]=$(median "${rf[@]}"); rss_none[$size]=$(median "${rn[@]}"); mem_per[$size]=$(median "${mem[@]}")
  steps_first[$size]=$(cat "$project/steps-$lab-first")
  steps_none[$size]=$(cat "$project/steps-$lab-none")
  # The next size's machines would compete with these for the 2 cores.
  "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || true
done

each() { local out=""; for x in "$@"; do out+="$(fmt "$x") "; done; echo "${out% }"; }
results=$repo/bench/INSTALL-RESULTS.md
marker='<!-- findings (by hand): kept by bench/install.sh -->'
findings=$( [[ -f $results ]] && awk -v m="$marker" '$0 == m { on = 1 } on' "$results" || true )
{
  echo "# install on the lab: timings"
  echo
  echo "Written by \`bench/install.sh\` (release build), $runs runs per size, medians (each run in"
  echo "the last columns). *First*: \`v6deploy -i inventories/lab-inbN.yaml install\` on fresh lab"
  echo "machines with a fresh PKI: every certificate made, the bundle ($bundle_mb MB of binaries, CNI"
  echo "plugins and images) sent to every host as its roles need it, the 3-member etcd cluster, the"
  echo "control plane (first three machines: control plane + etcd + worker; the others workers),"
  echo "containerd, kubelet and kube-proxy on every machine with their health checks, the images"
  echo "imported, flannel, CoreDNS and NodeLocal DNSCache applied and their pods Ready. *Nodes"
  echo "Ready* and *DNS* count from the install's start until \`kubectl get nodes\` shows every node"
  echo "Ready and until a busybox pod has resolved \`kubernetes.default.svc.cluster.local\` (through"
  echo "node-local-dns and CoreDNS). *No change*: the same install again at once (every host ok,"
  echo "changed=0, every service's health check made); *check*: \`v6deploy check\` on the same lab."
  echo "*RSS*: v6deploy's peak resident memory (GNU time). *Memory per machine*: after the first"
  echo "install and the DNS probe, the resident (anon) memory of a machine's processes, from its"
  echo "cgroup's \`memory.stat\` (\`total_rss\`), averaged over the machines (page cache not counted)."
  echo
  echo "| machines | first (s) | nodes Ready (s) | DNS answers (s) | no change (s) | check (s) | no change / check | peak RSS first / no change (MB) | memory per machine (MB) | first, each run | no change, each run |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
  for size in $sizes; do
    read -ra f <<<"${first_runs[$size]}"; read -ra r <<<"${ready_runs[$size]}"; read -ra d <<<"${dns_runs[$size]}"
    read -ra n <<<"${none_runs[$size]}"; read -ra c <<<"${check_runs[$size]}"
    nm=$(median "${n[@]}"); cm=$(median "${c[@]}")
    echo "| $size | $(fmt "$(median "${f[@]}")") | $(fmt "$(median "${r[@]}")") | $(fmt "$(median "${d[@]}")") | $(fmt "$nm") | $(fmt "$cm") | $(awk -v a="$nm" -v b="$cm" 'BEGIN { printf "%.2f", a / b }') | $(mb "${rss_first[$size]}") / $(mb "${rss_none[$size]}") | $(mb "${mem_per[$size]}") | $(each "${f[@]}") | $(each "${n[@]}") |"
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
  echo
  if [[ -n $findings ]]; then echo "$findings"; else echo "$marker"; fi
} >"$results.new"
mv "$results.new" "$results"
cat "$results"
