#!/usr/bin/env bash
# Times `v6deploy check` and `v6deploy push` of 20 files on N = 3, 10, 30 lab machines (one
# lab, grown between sizes) and writes the table to bench/CHECK-PUSH-RESULTS.md, keeping what is written
# below the findings marker. Needs root (the lab). Usage: bench/run.sh [N ...]
#
# Each figure is the median wall time of V6DEPLOY_BENCH_RUNS runs (default 5), measured with
# hyperfine when it is installed, else with a loop around `date +%s.%N`. "First run": the
# files are absent on every machine (removed with `lab exec` before each run, untimed).
# "No-change run": the files are already in place.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -gt 0 ]]; then sizes=("$@"); else sizes=(3 10 30); fi
runs=${V6DEPLOY_BENCH_RUNS:-5}
lab=ssbench
remote=/srv/v6deploy-bench
results=$repo/bench/CHECK-PUSH-RESULTS.md
marker='<!-- findings: everything below this line is kept by bench/run.sh -->'

if [[ $(id -u) -ne 0 ]]; then
  echo "bench: run as root: the lab's machines are network namespaces and nspawn containers" >&2
  exit 1
fi
if ! command -v hyperfine >/dev/null; then
  echo "bench: hyperfine not found; installing it (apt-get install -y hyperfine), else timing with a shell loop" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
echo "bench: cargo build --release" >&2
(cd "$repo" && cargo build --release --quiet --bin v6deploy)
bin=$CARGO_TARGET_DIR/release/v6deploy

# The lab's project directory (inventory, key, known_hosts) lives outside the repository.
work=$(mktemp -d /tmp/v6deploy-bench.XXXXXX)
cleanup() {
  (cd "$work" && "$bin" lab down --name "$lab" --purge -q >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
inventory=$work/inventories/lab-$lab.yaml

# 20 files the size of a host's configuration, certificates and units: 0.5 to 10 KiB each,
# incompressible.
mkdir files empty
for i in $(seq -w 1 20); do
  head -c $((512 * 10#$i)) /dev/urandom > "files/file-$i.conf"
done

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)

# measure NAME PREPARE_SCRIPT COMMAND...: prints the median and range in seconds, "M (A–B)".
measure() {
  local name=$1 prepare=$2
  shift 2
  if command -v hyperfine >/dev/null; then
    local json=$work/$name.json
    local args=(--shell=none --runs "$runs" --warmup 1 --export-json "$json" --style none)
    [[ -n $prepare ]] && args+=(--prepare "bash $prepare")
    hyperfine "${args[@]}" "$*" >/dev/null
    jq -r '.results[0] | "\(.median) \(.min) \(.max)"' "$json"
  else
    local times=() start end i
    for ((i = 0; i <= runs; i++)); do
      [[ -n $prepare ]] && bash "$prepare" >/dev/null 2>&1
      start=$(date +%s.%N)
      "$@" >/dev/null 2>&1
      end=$(date +%s.%N)
      ((i > 0)) && times+=("$(echo "$end - $start" | bc -l)")  # run 0 is the warmup
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{ t[NR] = $1 } END { printf "%s %s %s\n", t[int((NR + 1) / 2)], t[1], t[NR] }'
  fi
}

# "0.563 0.523 0.613" -> "0.56 s (0.52–0.61)"
pretty() { awk '{ printf "%.2f s (%.2f–%.2f)", $1, $2, $3 }' <<<"$1"; }
# seconds below a limit?
under() { awk -v t="${1%% *}" -v limit="$2" 'BEGIN { exit !(t < limit) }'; }
verdict() { if under "$1" "$2"; then echo "met"; else echo "MISSED"; fi; }

rows=()
for n in "${sizes[@]}"; do
  echo "bench: lab $lab with $n machines" >&2
  "$bin" lab up --name "$lab" --hosts "$n" -q >/dev/null
  machines=$("$bin" -i "$inventory" inventory --json | jq -r '.hosts[].address' | wc -l)
  [[ $machines -eq $n ]] || { echo "bench: the inventory lists $machines machines, not $n" >&2; exit 1; }
  # Removing the files between first runs: `lab exec` on every machine, not SSH.
  delete=$work/delete-$n.sh
  for ordinal in $(seq 101 $((100 + n))); do
    echo "'$bin' lab exec --name $lab $ordinal -- rm -rf $remote 2>/dev/null"
  done > "$delete"

  echo "bench: N=$n: check" >&2
  check=$(measure "check-$n" "" "$bin" -i "$inventory" check)
  echo "bench: N=$n: connect only (push of an empty directory)" >&2
  connect=$(measure "connect-$n" "" "$bin" -i "$inventory" push "$work/empty" "$remote")
  echo "bench: N=$n: push of 20 files, first run" >&2
  first=$(measure "push-first-$n" "$delete" "$bin" -i "$inventory" push "$work/files" "$remote")
  echo "bench: N=$n: push of 20 files, no-change run" >&2
  same=$(measure "push-same-$n" "" "$bin" -i "$inventory" push "$work/files" "$remote")

  if [[ $n -eq 30 ]]; then
    rows+=("| $n | \`check\` | — | $(pretty "$check") | < 1 s: $(verdict "$check" 1) |")
    rows+=("| $n | \`push\` 20 files | $(pretty "$first") | $(pretty "$same") | < 2 s: $(verdict "$first" 2); < 1 s: $(verdict "$same" 1) |")
  else
    rows+=("| $n | \`check\` | — | $(pretty "$check") | |")
    rows+=("| $n | \`push\` 20 files | $(pretty "$first") | $(pretty "$same") | |")
  fi
  rows+=("| $n | connect only | — | $(pretty "$connect") | |")
done
load_after=$(load)

sshd_version=$("$bin" lab exec --name "$lab" 101 -- sh -c 'ssh -V 2>&1' 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(cd "$repo" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] || commit="$commit (with uncommitted changes)"
timer=$(command -v hyperfine >/dev/null && hyperfine --version || echo "shell loop (date +%s.%N)")

findings=""
if [[ -f $results ]]; then
  findings=$(awk -v marker="$marker" 'kept { print } $0 == marker { kept = 1 }' "$results")
fi

{
  echo "# Benchmark: \`check\` and \`push\` on N lab machines"
  echo
  echo "Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), v6deploy $commit (release build)."
  echo "Median wall time of $runs runs (min–max in brackets), measured with $timer."
  echo "\"First run\": the 20 files are absent on every machine; \"no-change run\": they are all in"
  echo "place. \`check\` gathers every fact and changes nothing. \"Connect only\" is a \`push\` of an"
  echo "empty directory: connecting to and authenticating with every machine, and nothing else."
  echo
  echo "| N | command | first run | no-change run | target (N = 30) |"
  echo "| --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "The 20 files: 0.5 to 10 KiB each (105 KiB in all), random bytes."
  echo
  echo "The machine (shared with other work, which the load average shows):"
  echo
  echo "- CPUs: $(nproc) ($cpu)"
  echo "- kernel: $(uname -r)"
  echo "- load average (1, 5, 15 min): $load_before before, $load_after after"
  echo "- the $n lab machines are systemd-nspawn containers on the same CPUs, running"
  echo "  $sshd_version: sshd's work for every machine is done there too"
  echo
  echo "$marker"
  if [[ -n $findings ]]; then echo "$findings"; fi
} > "$results"
echo "bench: wrote $results" >&2
cat "$results"
