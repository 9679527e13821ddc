#!/usr/bin/env bash
# How fast `v6deploy lint` reads a large tree, against `grep -r` reading the same files (the
# floor: one pass over every byte). Writes bench/LINT-RESULTS.md.
#
#   bench/lint.sh [FILES]     # default 30000 small configuration files
#
# The tree: FILES files of 5 kinds (YAML, .properties, .env, JSON, go.mod) in 300
# directories, 1 in 50 with a pitfall, plus a node_modules/ of as many files (skipped by lint,
# read by grep -r unless excluded: both are shown). Runs: 1 warm-up, then the median of 5.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-30000}
cargo build --release --quiet --bin v6deploy
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/v6deploy")
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
python3 - "$tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
kinds = [
    ("app.yaml", "server:\n  port: 8080\n  address: \"[2001:db8::%d]:8080\"\nredis:\n  seeds: [\"[2001:db8::1]:7000\"]\n", "  bad: 2001:db8::5:6379\n"),
    ("app.properties", "spring.datasource.url=jdbc:mysql://[2001:db8::%d]:3306/app\nserver.port=8080\n", "server.address=0.0.0.0\n"),
    (".env", "REDIS_ADDR=[2001:db8::%d]:6379\nLOG_LEVEL=info\n", "HEALTH=http://localhost:8080/\n"),
    ("config.json", "{\n  \"listen\": \"[::]:%d\",\n  \"timeout\": 30\n}\n", "{\"upstream\": \"2001:db8::7:8080\"}\n"),
    ("go.mod", "module example.com/m%d\n\ngo 1.21\n\nrequire github.com/redis/go-redis/v9 v9.5.2\n", "require github.com/go-redis/redis/v8 v8.11.5\n"),
]
for i in range(n):
    d = os.path.join(root, "src", "d%03d" % (i % 300), "f%05d" % i)
    os.makedirs(d, exist_ok=True)
    name, good, bad = kinds[i % len(kinds)]
    with open(os.path.join(d, name), "w") as f:
        f.write(good % i + (bad if i % 50 == 0 else ""))
    m = os.path.join(root, "node_modules", "p%03d" % (i % 300))
    os.makedirs(m, exist_ok=True)
    with open(os.path.join(m, "f%05d.js" % i), "w") as f:
        f.write("module.exports = { host: '0.0.0.0', port: %d };\n" % i)
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # COMMAND...: the median wall time of 5 runs, in seconds
  "$@" >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    echo "$e - $s" | bc -l
  done | median | xargs printf "%.2f"
}
lint=$(timed "$bin" lint "$tree")
grep_all=$(timed grep -rI -c -e 0.0.0.0 -e '::' "$tree")
grep_src=$(timed grep -rI -c --exclude-dir=node_modules -e 0.0.0.0 -e '::' "$tree")
findings=$( { "$bin" lint "$tree" || true; } | tail -n 1)  # exit 2: findings, as planted
{
  echo "# \`v6deploy lint\` on a large tree"
  echo
  echo "Measured with \`bench/lint.sh $files\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), warm page cache; median of 5 runs."
  echo
  echo "The tree: $files configuration files in 300 directories (1 in 50 with a pitfall) and a \`node_modules/\` of $files more files (lint skips it). lint said: \`$findings\`."
  echo
  echo "| command | wall (s) |"
  echo "| --- | ---: |"
  echo "| \`v6deploy lint TREE\` (every rule, $(nproc) threads) | $lint |"
  echo "| \`grep -rI -c -e 0.0.0.0 -e :: TREE\` (every file, node_modules too) | $grep_all |"
  echo "| \`grep -rI -c --exclude-dir=node_modules ...\` (the files lint reads) | $grep_src |"
} > bench/LINT-RESULTS.md
cat bench/LINT-RESULTS.md
