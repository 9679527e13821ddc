#!/usr/bin/env python3
"""The results of a conformance run (scripts/conformance.sh) from its JUnit reports.

Prints every failed test and the closing line `N passed, N failed, N skipped` over the
conformance tests the run selected (all of them unless --focus/--skip); "skipped" are those
selected that have no result. With --doc, writes the run's table into that Markdown file
between `<!-- results: NETWORK -->` and `<!-- end results: NETWORK -->` (the rest of the file is
left as it is). Exits 1 when a test failed or a selected test is in no report at all (a run
cut short); a test the suite itself skipped counts as skipped.
"""
import argparse
import datetime
import pathlib
import re
import sys
import xml.etree.ElementTree as ET


def results(reports):
    """name -> (status, seconds, message) over every junit*.xml under `reports`; a test that
    ran in one pass and was skipped in another keeps its result."""
    found = {}
    rank = {"skipped": 0, "passed": 1, "failed": 2}
    for path in sorted(pathlib.Path(reports).rglob("junit*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            name = case.get("name", "")
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            if failure is not None:
                text = (failure.get("message") or failure.text or "").strip()
                result = ("failed", float(case.get("time", 0)), text)
            elif case.find("skipped") is not None:
                result = ("skipped", 0.0, "")
            else:
                result = ("passed", float(case.get("time", 0)), "")
            if name not in found or rank[result[0]] > rank[found[name][0]]:
                found[name] = result
    return found


def first_line(text, limit=220):
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def table(selected, found, network, wall, counts):
    passed, failed, skipped = counts
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- results: {network} -->",
        f"### Results with `pod_network: {network}`",
        "",
        f"Run {now}; wall time {wall // 60} min {wall % 60} s (both passes). "
        f"**{passed} passed, {failed} failed, {skipped} skipped** of {len(selected)} conformance tests.",
        "",
        "| # | test | result | seconds | first line of the failure |",
        "|---|---|---|---|---|",
    ]
    for number, name in enumerate(selected, 1):
        status, seconds, message = found.get(name, ("not run", 0.0, ""))
        if status == "skipped":
            status = "not run"
        note = first_line(message) if status == "failed" else ""
        if status == "not run":
            note = "no result in the reports"
        lines.append(f"| {number} | {cell(name)} | {status} | {seconds:.0f} | {cell(note)} |")
    lines.append(f"<!-- end results: {network} -->")
    return "\n".join(lines)


def write_doc(doc, network, section):
    path = pathlib.Path(doc)
    text = path.read_text() if path.exists() else "# Kubernetes conformance on the IPv6-only lab\n"
    pattern = re.compile(
        rf"<!-- results: {re.escape(network)} -->.*?<!-- end results: {re.escape(network)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", required=True, help="the run's directory (JUnit files below it)")
    parser.add_argument("--list", required=True, help="every conformance test, a name a line")
    parser.add_argument("--wall", type=int, default=0, help="the run's wall time in seconds")
    parser.add_argument("--network", default="flannel", help="the lab's pod network")
    parser.add_argument("--focus", help="the run's --focus (Go regexp; Python's reads the same for these)")
    parser.add_argument("--skip", help="the run's --skip")
    parser.add_argument("--doc", help="the Markdown file to write this run's table into")
    args = parser.parse_args()

    everything = [l for l in pathlib.Path(args.list).read_text().splitlines() if l.strip()]
    selected = [
        n for n in everything
        if (not args.focus or re.search(args.focus, n)) and not (args.skip and re.search(args.skip, n))
    ]
    found = results(args.reports)
    passed = sum(1 for n in selected if found.get(n, ("",))[0] == "passed")
    failed_names = [n for n in selected if found.get(n, ("",))[0] == "failed"]
    skipped = len(selected) - passed - len(failed_names)
    for name in failed_names:
        print(f"FAILED {name}\n       {first_line(found[name][2])}")
    counts = (passed, len(failed_names), skipped)
    if args.doc:
        write_doc(args.doc, args.network, table(selected, found, args.network, args.wall, counts))
        print(f"wrote the table of {len(selected)} tests into {args.doc}", file=sys.stderr)
    print(f"{passed} passed, {len(failed_names)} failed, {skipped} skipped")
    missing = [n for n in selected if n not in found]
    for name in missing:
        print(f"NO RESULT {name}")
    return 1 if failed_names or missing else 0


if __name__ == "__main__":
    sys.exit(main())
