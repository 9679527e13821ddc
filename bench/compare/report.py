#!/usr/bin/env python3
"""results.tsv (run.sh) -> the Markdown table of bench/RESULTS.md: per N and tool, the median
wall time of the first and the no-change runs, the median controller CPU time (user + sys),
the peak RSS, and how many times faster v6deploy is. Runs that failed or failed the
correctness check are left out (and counted).

usage: report.py RESULTS.tsv                   print the table
       report.py RESULTS.tsv --into FILE.md    replace the generated part of FILE.md (between
                                               its results markers) with the machine and the
                                               table; the rest of the file is kept
"""
import collections
import os
import platform
import re
import statistics
import subprocess
import sys

BEGIN, END = "<!-- results:begin (bench/compare/report.py) -->", "<!-- results:end -->"

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
runs = collections.defaultdict(list)
failed = collections.Counter()
for n, tool, rep, kind, wall, user, sys_, rss, ok, load in rows:
    if ok != "yes":
        failed[(int(n), tool)] += 1
        continue
    runs[(int(n), tool, kind)].append((float(wall), float(user) + float(sys_), int(rss), rep))
# A no-change run counts only when its first run passed the check.
good_reps = {(int(n), tool, rep) for n, tool, rep, kind, *_, ok, _l in rows if kind == "first" and ok == "yes"}
for key in list(runs):
    n, tool, kind = key
    runs[key] = [r for r in runs[key] if (n, tool, r[3]) in good_reps]


def med(key, i):
    values = [r[i] for r in runs.get(key, [])]
    return statistics.median(values) if values else None


def fmt(v, d=2):
    return "—" if v is None else f"{v:.{d}f}"


def table():
    lines = [
        "| N | tool | runs | first run wall (s) | no-change wall (s) | CPU first / no-change (s) | peak RSS (MB) | v6deploy faster: first / no-change |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n in sorted({k[0] for k in runs}):
        for tool in ("v6deploy", "pyinfra", "ansible"):
            f, c = (n, tool, "first"), (n, tool, "nochange")
            if f not in runs or not runs[f]:
                continue
            rss = max(r[2] for r in runs[f] + runs.get(c, [])) / 1024
            ratio = ""
            if tool != "v6deploy" and runs.get((n, "v6deploy", "first")):
                a = med(f, 0) / med((n, "v6deploy", "first"), 0)
                b = med(c, 0) / med((n, "v6deploy", "nochange"), 0) if runs.get(c) and runs.get((n, "v6deploy", "nochange")) else None
                ratio = f"{a:.1f}× / {fmt(b, 1)}×"
            note = f" (+{failed[(n, tool)]} failed)" if failed[(n, tool)] else ""
            lines.append(f"| {n} | {tool} | {len(runs[f])}{note} | {fmt(med(f, 0))} | {fmt(med(c, 0))} | {fmt(med(f, 1))} / {fmt(med(c, 1))} | {rss:.0f} | {ratio} |")
    return "\n".join(lines)


def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip() or "?"
    except OSError:
        return "?"


def machine():
    """The machine the rows were measured on, as Markdown list items."""
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    venv = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "bin")
    ansible = out(os.path.join(venv, "ansible"), "--version").splitlines()[0]
    pyinfra = out(os.path.join(venv, "pyinfra"), "--version").split()[-1]
    loads = [float(r[9]) for r in rows]
    return [
        f"- written: {out('date', '-u', '+%Y-%m-%d %H:%M UTC')}, v6deploy {out('git', 'rev-parse', '--short', 'HEAD')} (release build); raw rows in `bench/compare/results/`",
        f"- CPU: {os.cpu_count()} × {model}; memory {mem} GiB; kernel {platform.release()}",
        "- hosts: N systemd-nspawn Debian 12 machines (OpenSSH 9.2p1) on the same CPUs as the controller",
        f"- tools: {ansible}; pyinfra {pyinfra}; Python {platform.python_version()}",
        f"- load average (1 min) at the start of the runs: {min(loads):.1f} to {max(loads):.1f}" if loads else "- load average: ?",
    ]


if len(sys.argv) > 3 and sys.argv[2] == "--into":
    path = sys.argv[3]
    generated = "\n".join([BEGIN, "", *machine(), "", table(), "", END])
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: generated, text, flags=re.S)
    else:
        text = text + "\n" + generated + "\n"
    open(path, "w").write(text)
else:
    print(table())
