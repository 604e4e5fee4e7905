#!/usr/bin/env python3
"""Whole-process benchmarks for make bench: peak RSS replaying both shipped captures at full
speed (headless), and idle CPU of the UI in tmux with the replay paused. Prints JSON lines."""
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
