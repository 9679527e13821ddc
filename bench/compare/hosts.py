#!/usr/bin/env python3
"""Lab-side helpers of the benchmark, over plain OpenSSH (all hosts in parallel).

  hosts.py WORK wipe         undo what the job did on every host (first-run state again)
  hosts.py WORK check [K]    compare content and mode of every file of the job on K hosts
                             (first and last; default 2) with the local render output
"""
import hashlib
import json
import os
import shlex
import subprocess
import sys

work, action = sys.argv[1], sys.argv[2]
job = json.load(open(os.path.join(work, "job.json")))
env = dict(line.strip().split("=", 1) for line in open(os.path.join(work, "ssh.env")) if "=" in line)


def ssh(address, script):
    return subprocess.Popen(["ssh", "-i", env["KEY"], "-o", f"UserKnownHostsFile={env['KNOWN']}", "-o", "StrictHostKeyChecking=yes",
                             "-o", "BatchMode=yes", "-o", "ControlPath=none", f"root@{address}", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


if action == "wipe":
    procs = []
    for h in job["hosts"].values():
        paths = [f["path"] for f in h["files"] + h["binaries"]]
        script = ("systemctl disable --now etcd >/dev/null 2>&1; rm -f " + " ".join(map(shlex.quote, paths)) +
                  " /tmp/.v6deploy-health; rm -rf /var/lib/etcd /etc/v6deploy /var/lib/v6deploy; "
                  "sed -i '/^# BEGIN v6deploy node names/,/^# END v6deploy node names/d' /etc/hosts; "
                  "systemctl daemon-reload; systemctl reset-failed >/dev/null 2>&1; true")
        procs.append((h["address"], ssh(h["address"], script)))
    bad = [(a, p.communicate()[1]) for a, p in procs if p.wait() != 0]
    for a, err in bad:
        print(f"wipe {a}: {err.strip()}", file=sys.stderr)
    sys.exit(1 if bad else 0)

if action == "check":
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    hosts = list(job["hosts"].values())
    picked = [hosts[0], hosts[-1]][:count] if len(hosts) > 1 else hosts
    failures = []
    for h in picked:
        files = h["files"] + h["binaries"]
        script = "for p in " + " ".join(shlex.quote(f["path"]) for f in files) + \
                 "; do if [ -f \"$p\" ]; then echo \"$(stat -c %a \"$p\") $(sha256sum < \"$p\" | cut -d' ' -f1)\"; else echo -; fi; done"
        out, err = ssh(h["address"], script).communicate()
        lines = out.splitlines()
        if len(lines) != len(files):
            failures.append(f"{h['address']}: {err.strip()}")
            continue
        for f, line in zip(files, lines):
            want = f"{int(f['mode'], 8):o} {hashlib.sha256(open(f['src'], 'rb').read()).hexdigest()}"
            if line != want:
                failures.append(f"{h['address']} {f['path']}: {line[:20]} != {want[:20]}")
    if failures:
        print("CHECK FAILED:\n  " + "\n  ".join(failures[:10]), file=sys.stderr)
        sys.exit(1)
    print(f"check ok: {sum(len(h['files']) + len(h['binaries']) for h in picked)} files on {len(picked)} hosts match render")
