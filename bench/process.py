#!/usr/bin/env python3
"""Whole-process benchmarks for make bench: peak RSS replaying both shipped captures at full
speed (headless), bars/s through the `kestrel ta` binary on the 45,031-bar BTC perpetual month,
and idle CPU of the UI in tmux with the replay paused. Prints JSON lines."""
import json, os, resource, shutil, subprocess, sys, tempfile, time

kbin = os.path.abspath(sys.argv[1])
files = ",".join("data/replay/%s_2024080%d.gz" % (s, d) for s in ("btcusdt", "ethusdt") for d in (8, 9))
tmp = tempfile.mkdtemp(prefix="kestrel-bench.")
try:
    t0 = time.time()
    p = subprocess.run([kbin, "--headless", "--exit-at-end", "--speed", "0", "--db", tmp + "/b.db",
                        "--socket", tmp + "/b.sock", "--log", tmp + "/b.log", "--replay", files],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.time() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    st = json.loads(p.stdout.decode() or "{}")
    msgs = st.get("messages", 0)
    print(json.dumps({"bench": "rss", "peak_rss_mb": round(ru.ru_maxrss / 1024.0, 2),
                      "messages": msgs, "wall_s": round(wall, 3),
                      "msgs_per_s_whole_program": round(msgs / wall) if wall > 0 else 0}))
    # bars/s through the real `kestrel ta` binary (process start, gzip read, parse, the default
    # 19 columns, CSV to /dev/null) on the 45,031-bar BTC perpetual month; best of 3, CPU time
    # of the child (user + sys) as the other benches, wall time for reference
    shared = os.environ.get("KESTREL_SHARED_DATA") or os.path.join("..", "shared", "data")
    perp = os.path.join(shared, "klines", "btc-perp_1m_2021-12-31_2022-02-01.csv.gz")
    if os.path.exists(perp):
        import gzip
        with gzip.open(perp, "rt") as f:
            bars = sum(1 for line in f if line[:1].isdigit())
        best_cpu, best_wall, rc = None, None, 0
        for _ in range(3):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.time()
            with open(os.devnull, "w") as null:
                rc = subprocess.run([kbin, "ta", "--data", perp], stdout=null).returncode
            wall = time.time() - t0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
            best_wall = wall if best_wall is None else min(best_wall, wall)
        print(json.dumps({"bench": "kestrel_ta_bin", "bars_per_s": round(bars / best_cpu) if best_cpu else 0,
                          "wall_bars_per_s": round(bars / best_wall) if best_wall else 0,
                          "bars": bars, "columns": 19, "exit": rc}))
    if shutil.which("tmux"):
        sock = "kestrel-bench%d" % os.getpid()
        cmd = "exec %s --db %s/i.db --socket %s/i.sock --replay %s" % (kbin, tmp, tmp, files)
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "200",
                        "-y", "60", cmd])
        time.sleep(3)
        subprocess.run([kbin, "ctl", "--socket", tmp + "/i.sock", "pause"], stdout=subprocess.DEVNULL)
        pid = subprocess.run(["tmux", "-L", sock, "list-panes", "-F", "#{pane_pid}"],
                             stdout=subprocess.PIPE).stdout.decode().strip()
        def cpu(pid):
            f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])
        try:
            time.sleep(1)
            c0, t0 = cpu(pid), time.time()
            time.sleep(5)
            c1, t1 = cpu(pid), time.time()
            hz = os.sysconf("SC_CLK_TCK")
            print(json.dumps({"bench": "idle", "cpu_percent": round(100.0 * (c1 - c0) / hz / (t1 - t0), 3),
                              "seconds": round(t1 - t0, 1)}))
        except (OSError, IndexError, ValueError) as e:
            print(json.dumps({"bench": "idle", "error": str(e)}))
        subprocess.run(["tmux", "-L", sock, "kill-server"], stderr=subprocess.DEVNULL)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
