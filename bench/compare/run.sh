#!/usr/bin/env bash
# The same configure job done by v6deploy, tuned Ansible and pyinfra on fresh lab machines:
# every file `v6deploy render` writes for each host (certificates, kubeconfigs, configuration,
# units, the addons' manifests), the etcd binaries on the etcd members, sysctl and modules,
# /etc/hosts, the membership marker, and the 3-member etcd cluster started and healthy; the
# other components configured but not started. v6deploy gets that job from a bundle holding
# only etcd and etcdctl (`bundle.missing: stage`: what lacks its binary is staged).
#
#   bench/compare/run.sh [N...]          (default: 3 10 30 50)
#
# For each N: a lab "bcN" of N machines, `render -o` (the reference), the job generated from it
# (gen.py), then per tool and repetition: wipe the hosts (hosts.py wipe), first run, correctness
# check of 2 hosts against the render output (hosts.py check), no-change run. Each run is timed
# with GNU time (wall, user, sys, max RSS of the largest controller process). Rows go to
# bench/compare/work/results.tsv (they accumulate over runs: remove it for a fresh table);
# report.py writes the machine and the table into bench/RESULTS.md.
# Env: REPS (3), ANSIBLE_REPS (REPS), ANSIBLE_REPS_BIG (1: Ansible repetitions at N >= 30), TOOLS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPS=${REPS:-3}
ANSIBLE_REPS_BIG=${ANSIBLE_REPS_BIG:-1}
TOOLS=${TOOLS:-"v6deploy pyinfra ansible"}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(3 10 30 50)
HERE=bench/compare
WORKROOT=$HERE/work
RESULTS=$WORKROOT/results.tsv
VENV=bench/.venv
mkdir -p "$WORKROOT"

command -v /usr/bin/time >/dev/null || apt-get install -y -q time
cargo build --release -q
V=$CARGO_TARGET_DIR/release/v6deploy
if [ ! -x $VENV/bin/ansible-playbook ] || [ ! -x $VENV/bin/pyinfra ]; then
  python3 -m venv $VENV
  # ansible-core 2.20+ needs Python >= 3.12; 2.19 is the newest for this machine's 3.11.
  $VENV/bin/pip install -q 'ansible-core>=2.19,<2.20' 'pyinfra>=3,<4'
fi
# The lab image has no Python, which Ansible's modules need (v6deploy and pyinfra need only
# sh): Debian's python3.11 packages, unpacked once, are streamed onto each host before timing.
PY=/var/cache/bc-py/py.tgz
if [ ! -f $PY ]; then
  mkdir -p /var/cache/bc-py/root && (cd /var/cache/bc-py && apt-get download -q python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3-minimal)
  for d in /var/cache/bc-py/*.deb; do dpkg-deb -x "$d" /var/cache/bc-py/root; done
  tar czf $PY -C /var/cache/bc-py/root .
fi
[ -f "$RESULTS" ] || printf 'n\ttool\trep\tkind\twall\tuser\tsys\tmaxrss_kb\tok\tload\n' > "$RESULTS"

LAB=""
cleanup() { [ -z "$LAB" ] || $V lab down --name "$LAB" --purge >/dev/null 2>&1 || true; close_masters; }
close_masters() { for s in /tmp/bc-ansible-cp/*; do [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1; done; true; }
trap cleanup EXIT

# measure N TOOL REP KIND OK_CHECK CMD...: one timed run, one results row.
measure() {
  local n=$1 tool=$2 rep=$3 kind=$4 check=$5; shift 5
  local log=$WORK/$tool-$rep-$kind.log t=$WORK/time.txt ok=yes load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -o $t -f '%e %U %S %M' "$@" >"$log" 2>&1 || ok="no (exit $?, see $log)"
  if [ "$check" = check ] && [ "$ok" = yes ]; then
    python3 $HERE/hosts.py "$WORK" check >>"$log" 2>&1 || ok="no (check failed, see $log)"
  fi
  read -r wall user sys rss < <(tail -1 $t)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$tool" "$rep" "$kind" "$wall" "$user" "$sys" "$rss" "$ok" "$load" | tee -a "$RESULTS"
}

for N in "${SIZES[@]}"; do
  LAB=bc$N
  WORK=$WORKROOT/$LAB
  rm -rf "$WORK"; mkdir -p "$WORK"
  INV=inventories/lab-$LAB.yaml
  $V lab up --name $LAB --hosts "$N" >"$WORK/lab-up.log" 2>&1 || { cat "$WORK/lab-up.log"; exit 1; }
  # v6deploy's inventory for the job: the lab's, with a bundle of etcd's binaries only.
  mkdir -p "$WORK/bundle/bin"
  cp .lab/$LAB/bundle/bin/etcd .lab/$LAB/bundle/bin/etcdctl "$WORK/bundle/bin/"
  VINV=inventories/lab-$LAB-configure.yaml
  sed -e "s|^  path: \.\./\.lab/$LAB/bundle\$|  path: $ROOT/$WORK/bundle|" -e 's|^  missing: refuse$|  missing: stage|' $INV >$VINV
  grep -q "path: $ROOT/$WORK/bundle" $VINV && grep -q 'missing: stage' $VINV || { echo "bench: could not point $VINV at the etcd-only bundle" >&2; exit 1; }
  $V -i $INV certs generate >/dev/null
  $V -i $INV render -o "$WORK/render" --force >/dev/null
  python3 $HERE/gen.py $INV "$WORK/render" .lab/$LAB/bundle/bin "$WORK" .lab/$LAB
  . "$WORK/ssh.env"
  for a in $(python3 -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['hosts']))" "$WORK/job.json"); do
    ssh -i "$KEY" -o UserKnownHostsFile="$KNOWN" -o BatchMode=yes -o ControlPath=none root@$a 'tar xzf - -C /' <$PY &
  done; wait
  for tool in $TOOLS; do
    reps=$REPS
    [ "$tool" = ansible ] && reps=${ANSIBLE_REPS:-$REPS}
    [ "$tool" = ansible ] && [ "$N" -ge 30 ] && reps=$ANSIBLE_REPS_BIG
    for rep in $(seq 1 $reps); do
      python3 $HERE/hosts.py "$WORK" wipe
      close_masters
      case $tool in
        v6deploy) cmd=($V -i $VINV install --forks "$N") ;;
        ansible) cmd=(env ANSIBLE_CONFIG=$HERE/ansible.cfg $VENV/bin/ansible-playbook -i "$WORK/hosts.yml" $HERE/playbook.yml -f "$N" -u root
                      --private-key "$KEY" --ssh-extra-args "-o UserKnownHostsFile=$KNOWN -o StrictHostKeyChecking=yes") ;;
        pyinfra) cmd=(env BENCH_WORK="$WORK" $VENV/bin/pyinfra -y --parallel "$N" "$WORK/inventory.py" $HERE/deploy.py) ;;
      esac
      measure "$N" $tool $rep first check "${cmd[@]}"
      measure "$N" $tool $rep nochange - "${cmd[@]}"
    done
  done
  close_masters
  $V lab down --name $LAB --purge >/dev/null 2>&1
  rm -f $VINV
  LAB=""
done
python3 $HERE/report.py "$RESULTS" > "$WORKROOT/table.md"
python3 $HERE/report.py "$RESULTS" --into bench/RESULTS.md
cp "$RESULTS" $HERE/results/results.tsv
echo "table: $WORKROOT/table.md, written into bench/RESULTS.md; rows: $HERE/results/results.tsv"
