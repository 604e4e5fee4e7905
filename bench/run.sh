#!/bin/sh
# make bench: runs every benchmark, collects their JSON lines into build/bench.json and prints a
# table. Benchmarks measure; they never fail the build on a number (goals are in the table).
# Usage: bench/run.sh BUILD_DIR
cd "$(dirname "$0")/.." || exit 2
B=${1:-build/release}
OUT=build/bench.json
mkdir -p build; : > "$OUT"
for b in "$B"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")" >&2
    "$b" | tee -a "$OUT" | grep '^{' >/dev/null || echo "   ($(basename "$b") printed no JSON)" >&2
done
# Whole-program measurements: peak RSS of a full replay of both shipped captures, idle CPU.
python3 bench/process.py "$B/kestrel" >> "$OUT"
echo
python3 - "$OUT" <<'PY'
import json, sys
goals = {
    ("pipeline", "ratio_vs_cjson"): ">= 1.5",
    ("replay_whole", "ratio"): ">= 2 (whole process vs gunzip + cJSON_Parse)",
    ("rss", "peak_rss_mb"): "< 20",
    ("frame", "p99_us"): "< 2000 (wall: includes preemption)",
    ("frame", "cpu_p99_us"): "< 2000",
    ("idle", "cpu_percent"): "< 1",
    ("indicators", "ns_per_bar"): "< 1000",
}
rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        j = json.loads(line)
    except ValueError:
        continue
    name = j.get("bench", "?")
    for k, v in j.items():
        if k == "bench" or isinstance(v, (dict, list)):
            continue
        rows.append((name, k, v, goals.get((name, k), "")))
print("%-14s %-28s %18s  %s" % ("bench", "metric", "value", "goal"))
for r in rows:
    v = r[2]
    vs = ("%.3f" % v) if isinstance(v, float) else str(v)
    print("%-14s %-28s %18s  %s" % (r[0], r[1], vs, r[3]))
PY
echo
echo "JSON lines: $OUT"
