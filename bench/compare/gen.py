#!/usr/bin/env python3
"""Turns `v6deploy render -o` output plus the lab inventory into the job description the
Ansible playbook and the pyinfra deploy read: for every host, the files install pushes
(path, mode, local source, and which handler a change triggers), the etcd binaries on etcd
members, the /etc/hosts block and the membership marker.

usage: gen.py INVENTORY RENDER_DIR BUNDLE_BIN WORK_DIR LAB_DIR
"""
import ipaddress
import json
import os
import re
import sys

inventory, render, bundle_bin, work, lab = sys.argv[1:6]
text = open(inventory).read()
cluster = re.search(r"^cluster:\n  name: (\S+)", text, re.M).group(1)
hosts = []
for m in re.finditer(r'- address: "([^"]+)"\n\s+roles: \[([^\]]*)\]', text):
    address = ipaddress.IPv6Address(m.group(1))
    roles = [r.strip() for r in m.group(2).split(",")]
    node = ".".join(address.exploded.split(":"))
    hosts.append({"address": str(address), "node": node, "roles": roles})

# What a change of a file triggers, as install decides (src/steps/etcd.rs, prepare_host.rs, service.rs).
ETCD_RESTART = ("/etc/etcd/etcd.conf.yml", "/etc/systemd/system/etcd.service", "/etc/kubernetes/pki/etcd/server.",
                "/etc/kubernetes/pki/etcd/peer.", "/etc/kubernetes/pki/etcd/ca.crt")
SKIP = ("/etc/sysconfig/network-scripts/",)  # ifcfg: pushed only with network.manage: true


def group(path):
    if path in ("/etc/sysctl.d/90-v6deploy.conf", "/etc/modules-load.d/v6deploy.conf"):
        return "prepare"
    if path.startswith(ETCD_RESTART):
        return "etcd"
    if path.startswith("/etc/systemd/system/"):
        return "units"
    return "plain"


hosts_block = "".join(f"{h['address']} {h['node']}\n" for h in hosts)
first_cp = next(h for h in hosts if "control-plane" in h["roles"])
jobs = {}
for h in hosts:
    root = os.path.join(render, h["node"])
    files = []
    for d, _, names in os.walk(root):
        for n in sorted(names):
            src = os.path.join(d, n)
            path = "/" + os.path.relpath(src, root)
            if path.startswith(SKIP):
                continue
            files.append({"path": path, "mode": "%04o" % (os.stat(src).st_mode & 0o777), "src": os.path.abspath(src), "group": group(path)})
    if h is first_cp:
        cdir = os.path.join(render, "cluster")
        for n in sorted(os.listdir(cdir)):
            files.append({"path": f"/etc/kubernetes/addons/{n}", "mode": "0644", "src": os.path.abspath(os.path.join(cdir, n)), "group": "plain"})
    files.sort(key=lambda f: f["path"])
    etcd = "etcd" in h["roles"]
    binaries = [{"path": f"/usr/local/bin/{b}", "mode": "0755", "src": os.path.abspath(os.path.join(bundle_bin, b)), "group": "etcd" if b == "etcd" else "plain"} for b in ("etcd", "etcdctl")] if etcd else []
    units = [f["path"] for f in files if f["path"].startswith("/etc/systemd/system/") and f["path"].endswith(".service")]
    marker = f"# Managed by v6deploy: this host belongs to the cluster below.\ncluster: {cluster}\nnode: {h['node']}\nroles: {','.join(h['roles'])}\n"
    dirs = sorted({os.path.dirname(f["path"]) for f in files + binaries})
    jobs[h["address"]] = {**h, "etcd": etcd, "dirs": dirs, "files": files, "binaries": binaries, "units": units, "hosts_block": hosts_block, "marker": marker}

os.makedirs(work, exist_ok=True)
with open(os.path.join(work, "job.json"), "w") as f:
    json.dump({"cluster": cluster, "hosts": jobs}, f, indent=1)

key = os.path.abspath(os.path.join(lab, "id_ed25519"))
known = os.path.abspath(os.path.join(lab, "known_hosts"))
# Ansible: one inventory host per machine, named by its node name, its job as host vars.
os.makedirs(os.path.join(work, "host_vars"), exist_ok=True)
with open(os.path.join(work, "hosts.yml"), "w") as f:
    f.write("all:\n  hosts:\n")
    for h in jobs.values():
        f.write(f"    {h['node']}:\n      ansible_host: \"{h['address']}\"\n")
for h in jobs.values():
    with open(os.path.join(work, "host_vars", h["node"] + ".json"), "w") as f:
        json.dump({"job": h}, f)
with open(os.path.join(work, "ssh.env"), "w") as f:
    f.write(f"KEY={key}\nKNOWN={known}\n")
# pyinfra: hosts by address, ssh options as host data.
with open(os.path.join(work, "inventory.py"), "w") as f:
    data = {"ssh_user": "root", "ssh_key": key, "ssh_known_hosts_file": known, "ssh_strict_host_key_checking": "yes"}
    f.write("hosts = [\n")
    for h in jobs.values():
        f.write(f"    ({h['address']!r}, {data!r}),\n")
    f.write("]\n")
print(f"{len(jobs)} hosts, {sum(len(j['files']) + len(j['binaries']) for j in jobs.values())} files")
