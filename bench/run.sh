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
# backtest: bars/s on the 45,031-bar BTC perpetual file, one core, beside `kestrel ta` computing
# every indicator on the same file (the floor a backtest pays); engine_lstm adds the LSTM (its
# inline retrains every 256 labels included). bars/s from the child's CPU time (user + sys, as
# the other benches; *_wall_bars_per_s from wall time), and each run's peak RSS. The machine is
# shared, so every command runs KESTREL_BENCH_REPEAT times (default 3), the rounds interleaved,
# and the best (least CPU) round counts; *_spread is the worst round over the best (1.0 = no
# noise). *_ta_ratio is a run's CPU time over `kestrel ta`'s in the same rounds: the load moves
# both, so the ratio is the number to compare between machines and runs. load_1m_start / _end and
# steal_percent (the hypervisor's share of this machine's CPU time meanwhile, /proc/stat) say how
# loaded the machine was.
python3 - "$B/kestrel" "${KESTREL_SHARED_DATA:-../shared/data}" "${KESTREL_BENCH_REPEAT:-3}" >> "$OUT" <<'PY'
import json, os, subprocess, sys, time
k, d, reps = sys.argv[1], sys.argv[2], max(1, int(sys.argv[3]))
f = d + "/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz"
one = ["taskset", "-c", "0"]
cols = []
for line in subprocess.run([k, "ta", "--list"], capture_output=True, text=True).stdout.split("\n")[1:]:
    p = line.split()
    if not p:
        break  # the table ends at the legend
    cols.append(p[0])  # the bare name: every output at the defaults
def stat_cpu():
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return sum(v[:8]), v[7] if len(v) > 7 else 0  # total jiffies, steal
def timed(cmd):
    t = time.perf_counter()
    p = subprocess.Popen(one + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit("benchmark command failed: %s" % " ".join(cmd))
    # CPU time, as the other benches: the machine is shared
    return ru.ru_utime + ru.ru_stime, time.perf_counter() - t, ru.ru_maxrss / 1024.0
bars = 45031
runs = [("ta_full_set", [k, "ta", "--data", f, "--indicators", ",".join(cols)])]
bt = [k, "backtest", "--data", f, "--no-baselines", "--no-store"]
for name, extra in (("engine", []), ("engine_bar_signals", ["--set", "engine.signal_interval=0"]),
                    ("rules_only", ["--strategy", "rules", "--set", "backtest.models=none"]),
                    ("engine_lstm", ["--set", "backtest.models=weights,logreg,mlp,lstm"])):
    runs.append((name, bt + extra))
cpu = {n: [] for n, _ in runs}
wall, rss = {}, {}
out = {"bench": "backtest", "bars": bars, "rounds": reps,
       "load_1m_start": round(os.getloadavg()[0], 2)}
t0, s0 = stat_cpu()
for _ in range(reps):
    for name, cmd in runs:
        c, w, r = timed(cmd)
        cpu[name].append(c)
        wall[name] = min(wall.get(name, w), w)
        rss[name] = round(max(rss.get(name, 0), r), 1)  # this child's peak RSS, MB
t1, s1 = stat_cpu()
out["load_1m_end"] = round(os.getloadavg()[0], 2)
out["steal_percent"] = round(100.0 * (s1 - s0) / max(1, t1 - t0), 1)
ta = min(cpu["ta_full_set"])
out["ta_full_set_bars_per_s"] = round(bars / ta)
for name, _ in runs[1:]:
    out[name + "_bars_per_s"] = round(bars / min(cpu[name]))
for name, _ in runs[1:]:
    out[name + "_ta_ratio"] = round(min(cpu[name]) / ta, 2)
for name, _ in runs:
    out[name + "_spread"] = round(max(cpu[name]) / min(cpu[name]), 2)
for name in rss:  # OpenBLAS / XGBoost are loaded only with a deep / tree model (deeplib.c)
    out[name + "_peak_rss_mb"] = rss[name]
    out[name + "_wall_bars_per_s"] = round(bars / wall[name])
print(json.dumps(out))
PY
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
    ("order_path", "risk_precision_us"): "< 5",
    ("order_path_commit", "risk_precision_p99_us"): "< 5",
    ("order_path_commit", "durable_commit_p99_us"): "< 2000",
    ("signal", "us_per_signal"): "< 50",
    ("signal", "us_update_logreg"): "<= 1",
    ("signal", "us_update_mlp"): "<= 10",
    ("models_lstm", "infer_us"): "<= 20",
    ("models_lstm", "train_step_us"): "<= 200",
    ("models_transformer", "infer_us"): "<= 50",
    ("live_loopback", "live_msgs_per_s"): ">= 500000 (fakefeed flat out; fake_bound: the feed is the limit)",
    ("live_loopback", "net_us_per_msg"): "<= 2 (one core: >= 500k msgs/s through the net thread)",
    ("live_loopback", "p99_us"): "< 1000",
    ("live_loopback", "rate_p99_us"): "< 1000 (at rate_target_msgs_per_s, below saturation)",
    ("live_loopback", "queue_drops"): "0 (backpressure)",
    ("live_loopback", "stall_replaced_ms"): "<= 200 (2 x the 100 ms cadence)",
    ("live_loopback", "stall_standby_replaced_ms"): "<= 200 (health.warm_standby)",
    ("live_loopback", "rss_mb"): "< 64 (100 symbols)",
    ("live_loopback", "rss_books_live"): "= rss_symbols",
    ("models_cnn", "infer_us"): "<= 50",
    ("models", "all_models_infer_us"): "<= 1000",
    ("models", "peak_rss_mb"): "< 64",
    ("models_engine", "us_per_bar_per_symbol"): "<= 1000 (the whole ensemble, every model)",
    ("models_engine", "peak_rss_mb"): "< 64 (the engine, every model, 2 symbols)",
    ("backtest", "engine_bars_per_s"): ">= 100000 (rules, weights, logreg, MLP learning)",
    ("backtest", "engine_lstm_bars_per_s"): ">= 10000 (the same with the LSTM learning too)",
    ("backtest", "engine_ta_ratio"): "(CPU time / kestrel ta's: load-independent)",
    ("backtest", "engine_lstm_ta_ratio"): "(CPU time / kestrel ta's: load-independent)",
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
