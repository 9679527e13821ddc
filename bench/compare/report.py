#!/usr/bin/env python3
"""results.tsv (run.sh) -> the Markdown table of bench/COMPARE.md: per N and tool, the median
wall time of the first and the no-change runs, the median controller CPU time (user + sys),
the peak RSS, and how many times faster v6deploy is. Runs that failed or failed the
correctness check are left out (and counted)."""
import collections
import statistics
import sys

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


fmt = lambda v, d=2: "—" if v is None else f"{v:.{d}f}"
print("| N | tool | runs | first run wall (s) | no-change wall (s) | CPU first / no-change (s) | peak RSS (MB) | v6deploy faster: first / no-change |")
print("|---:|---|---:|---:|---:|---:|---:|---|")
for n in sorted({k[0] for k in runs}):
    for tool in ("v6deploy", "pyinfra", "ansible"):
        f, c = (n, tool, "first"), (n, tool, "nochange")
        if f not in runs:
            continue
        rss = max(r[2] for r in runs[f] + runs.get(c, [])) / 1024
        ratio = ""
        if tool != "v6deploy" and (n, "v6deploy", "first") in runs:
            a = med(f, 0) / med((n, "v6deploy", "first"), 0)
            b = med(c, 0) / med((n, "v6deploy", "nochange"), 0) if c in runs and (n, "v6deploy", "nochange") in runs else None
            ratio = f"{a:.1f}× / {fmt(b, 1)}×"
        note = f" (+{failed[(n, tool)]} failed)" if failed[(n, tool)] else ""
        print(f"| {n} | {tool} | {len(runs[f])}{note} | {fmt(med(f, 0))} | {fmt(med(c, 0))} | {fmt(med(f, 1))} / {fmt(med(c, 1))} | {rss:.0f} | {ratio} |")
