#!/usr/bin/env bash
# Where a first install's CPU goes. Boots a fresh lab of N machines, runs `v6deploy install`
# (release build, the whole cluster) with BSD process accounting switched on (acct(2)), and
# prints: the install's wall time and this machine's busy core-seconds over it (/proc/stat);
# the CPU of the machines' processes still running after it (daemons: utime + stime from
# /proc, by command name, the pods' from each machine's `kubepods` cgroup); the CPU of the
# processes that ended during it (the accounting file: v6deploy itself, sshd, ctr, head, ...).
# Accounting counts in clock ticks, so very short processes round to 0. Root only; the lab and
# its temporary project directory are removed at the end, also when the script fails.
#
#   BENCH_MACHINES=10   lab size
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_MACHINES:-10}
source bench/lab-prelude.sh
lab=cpu$n
project=$(mktemp -d /tmp/v6deploy-cpu.XXXXXX)
acct_file=$project/pacct

acct() {
  python3 - "$@" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
path = sys.argv[2].encode() if sys.argv[1] == "on" else None
if path:
    open(path, "wb").close()
if libc.acct(path) != 0:
    raise OSError(ctypes.get_errno(), "acct")
PY
}
cleanup() {
  acct off || true
  cd "$project"
  [[ -d .lab/$lab ]] && { "$bin" lab down --name "$lab" --purge --quiet >/dev/null 2>&1 || echo "bench: could not remove lab $lab" >&2; }
  cd / && rm -rf "$project"
}
trap cleanup EXIT
cd "$project"
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

"$bin" lab up --name "$lab" --hosts "$n" --quiet >/dev/null
acct on "$acct_file"
b0=$(busy); t0=$(date +%s.%N)
/usr/bin/time -o time.txt -f '%e %U %S %M' "$bin" -i "inventories/lab-$lab.yaml" install >install.log 2>&1 ||
  { echo "bench: install failed:" >&2; tail -30 install.log >&2; exit 1; }
t1=$(date +%s.%N); b1=$(busy)
acct off

python3 - "$lab" "$acct_file" "$b0" "$b1" "$t0" "$t1" time.txt <<'PY'
import collections, glob, os, struct, sys
lab, acct_file, b0, b1, t0, t1, time_file = sys.argv[1:]
tck = os.sysconf("SC_CLK_TCK")
wall, user, system, rss = open(time_file).read().split()
print(f"first install on {lab}: {float(t1) - float(t0):.1f} s; this machine busy {(int(b1) - int(b0)) / tck:.1f} core-seconds over it; "
      f"v6deploy {float(user) + float(system):.1f} s of CPU ({user} user, {system} system), peak RSS {int(rss) // 1024} MB")

live = collections.Counter()
pods = 0.0
for machine in glob.glob(f"/sys/fs/cgroup/cpuacct/v6lab/{lab}/*/"):
    for pid in open(machine + "cgroup.procs").read().split():
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        live[comm] += (int(fields[11]) + int(fields[12])) / tck
    try:
        pods += int(open(machine + "kubepods/cpuacct.usage").read()) / 1e9
    except OSError:
        pass
if not live:
    print("(no cpuacct cgroups of the lab's machines found: a cgroup v1 host is needed for the per-daemon part)")
print("\nstill running (the machines' daemons, since they started), core-seconds:")
for comm, seconds in [(c, s) for c, s in live.most_common(14) if s >= 0.01]:
    print(f"  {comm:24s} {seconds:7.2f}")
print(f"  {'pods (kubepods cgroups)':24s} {pods:7.2f}")

def comp(value):  # comp_t: 13-bit mantissa, 3-bit base-8 exponent, in AHZ (100) ticks
    return (value & 0x1FFF) << (3 * (value >> 13))

ended = collections.Counter()
count = collections.Counter()
data = open(acct_file, "rb").read()
for i in range(0, len(data) - 63, 64):  # struct acct_v3
    record = data[i:i + 64]
    if record[1] != 3:
        continue
    utime, stime = struct.unpack_from("<HH", record, 32)
    comm = record[48:64].split(b"\0")[0].decode(errors="replace")
    ended[comm] += (comp(utime) + comp(stime)) / 100
    count[comm] += 1
print("\nended during the install (process accounting), core-seconds and processes:")
for comm, seconds in ended.most_common(12):
    print(f"  {comm:24s} {seconds:7.2f}  {count[comm]:6d}")
print(f"  {'all ended':24s} {sum(ended.values()):7.2f}  {sum(count.values()):6d}")
PY
grep '^time:' install.log || true
