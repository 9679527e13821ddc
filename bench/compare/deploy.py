"""The install job as a pyinfra deploy: the files `v6deploy render` writes for each host
(certificates included) and the etcd binaries with files.put, the same commands install runs
with server.shell, each command run only when a file it depends on changed (as install does).
The per-host job comes from job.json (gen.py), keyed by the host's address."""
import json
import os

from pyinfra import host
from pyinfra.operations import files, server

JOB = json.load(open(os.path.join(os.environ["BENCH_WORK"], "job.json")))
job = JOB["hosts"][host.name]


def put(entries):
    return [files.put(name=f"put {f['path']}", src=f["src"], dest=f["path"], mode=f["mode"], user="root", group="root", create_remote_dir=True) for f in entries]


def changed(ops):
    return lambda: any(op.did_change() for op in ops)


by_group = lambda g: [f for f in job["files"] if f["group"] == g]

files.directory(name="/etc/v6deploy", path="/etc/v6deploy", mode="0700", user="root", group="root")
files.put(name="membership marker", src=__import__("io").StringIO(job["marker"]), dest="/etc/v6deploy/member", mode="0644", user="root", group="root")
prepare = put(by_group("prepare"))
files.block(name="node names in /etc/hosts", path="/etc/hosts", content=job["hosts_block"].rstrip("\n"), marker="{mark}",
            begin="# BEGIN v6deploy node names (managed, do not edit)", end="# END v6deploy node names")
server.shell(name="apply sysctl", commands=["grep -E '^[a-z]' /etc/sysctl.d/90-v6deploy.conf | while IFS='= ' read -r k v; do p=/proc/sys/$(echo \"$k\" | tr . /); { echo \"$v\" > \"$p\"; } 2>/dev/null || echo \"$k\"; done; true"], _if=changed(prepare))
server.shell(name="kernel modules", commands=["for m in $(grep -E '^[a-z]' /etc/modules-load.d/v6deploy.conf); do [ -d \"/sys/module/$m\" ] && continue; if modprobe -n -q \"$m\" 2>/dev/null; then modprobe \"$m\"; else echo \"absent $m\"; fi; done"])
binaries = put(job["binaries"])
put(by_group("plain"))
etcd_files = put(by_group("etcd"))
units = put(by_group("units"))
server.shell(name="daemon-reload", commands=["systemctl daemon-reload"], _if=changed(etcd_files))
if job["etcd"]:
    server.shell(name="restart etcd", commands=["systemctl enable --quiet etcd && systemctl restart --no-block etcd"], _if=changed(etcd_files + binaries[:1]))
    server.shell(name="etcd running (unchanged files)", commands=["case $(systemctl is-active etcd) in active|activating) ;; *) systemctl enable --quiet etcd && systemctl restart --no-block etcd;; esac"])
    server.shell(name="etcd healthy", commands=[
        f"end=$(($(date +%s) + 90)); while :; do ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://[{job['address']}]:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --command-timeout=3s endpoint health && exit 0; [ $(date +%s) -lt $end ] || exit 1; sleep 0.2; done"],
                 _if=changed(etcd_files + binaries[:1]))
server.shell(name="verify units", _if=changed(etcd_files + units), commands=[
    "for u in " + " ".join(job["units"]) + "; do n=$(basename \"$u\" .service); o=$(systemd-analyze verify \"$u\" 2>&1) && continue; "
    "printf '%s\\n' \"$o\" | grep -v -e \"Command /usr/local/bin/[^ ]* is not executable\" -e 'Unit configuration has fatal error' | grep . && { echo \"$u fails verify\"; exit 1; }; done; true"])
