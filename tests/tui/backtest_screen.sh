#!/bin/sh
# TUI test of screen 5 (Backtests): the real program in a private tmux server on a test
# database. Empty, the screen says how to fill it; two real backtests (the shipped perpetual
# klines, two days, and the lean day with the rule scorer) are stored into that database while
# the app runs on it, B reads them again, and after a restart on the same database the list is
# there at once. The list shows the stored runs newest first with their summary columns (a
# click, or Up / Down and Enter, opens a run); the selected run's report shows the JSON report's
# numbers (net P&L, fees, the metrics with their intervals and sample sizes, the classification
# metrics, baselines, every verdict) and the text report's four plots with the same numbers
# (titles, reliability bins, months, trade buckets); a sweep's configuration opens like a run.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init bt
TUI_S=bt
start_app() {
    $T kill-server >/dev/null 2>&1
    $T new-session -d -s bt -x 160 -y 70 "$BIN --speed 0 --db $tmp/b.db --socket $tmp/b.sock \
        --log $tmp/b.log --replay data/replay/btcusdt_20240808.gz"
}
PERP="$SHARED/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz"
LEAN="$SHARED/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv"

# 1. an empty database: the screen says so, and how to fill it
start_app
wait_screen "REPLAY" 20 || true
$T send-keys -t bt 5
if wait_screen "no backtests stored yet — run kestrel backtest --data FILE" 10; then
    ok "empty: 'no backtests stored yet - run kestrel backtest --data FILE'"
else bad "empty message"; fi
grep -qF "source BACKTEST" "$tmp/screen" && ok "the screen states its source BACKTEST" ||
    bad "source BACKTEST"

# 2. two backtests stored into the database the app is running on; B reads them again
"$BIN" backtest --data "$PERP" --from 2022-01-06 --to 2022-01-08 --db "$tmp/b.db" \
    --json "$tmp/perp.json" > "$tmp/perp.txt" 2>"$tmp/perp.err"
r1=$?
"$BIN" backtest --data "$LEAN" --strategy rules --db "$tmp/b.db" --json "$tmp/lean.json" \
    > /dev/null 2>&1
r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && ok "two backtests stored while the app runs on the database" ||
    { cat "$tmp/perp.err"; bad "backtests stored"; }
$T send-keys -t bt B
if wait_screen "2 runs stored, newest first" 10; then ok "B reads the stored runs again"
else bad "B reload"; fi

# 3. a restart on the same database: the list is there on screen 5
$T send-keys -t bt q
wait_screen "quit?" 5 || true
$T send-keys -t bt y
n=50; while [ $n -gt 0 ] && $T has-session -t bt 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
start_app
wait_screen "REPLAY" 20 || true
$T send-keys -t bt 5
if wait_screen "2 runs stored, newest first" 10; then ok "after a restart the runs are listed"
else bad "restart list"; fi
# the list: newest first (the lean run #2, then the perp run #1), the summary columns
if python3 - "$tmp/screen" "$tmp/perp.json" "$tmp/lean.json" <<'PY'
import json, re, sys
from decimal import Decimal as D
scr = open(sys.argv[1]).read()
rows = re.findall(r"│ *(\d+)[* ] (\d\d-\d\d \d\d:\d\d) (\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(.*?) *│", scr)
assert [r[0] for r in rows[:2]] == ["2", "1"], rows
for r, f in zip(rows, sys.argv[3:1:-1]):
    j = json.load(open(f))
    assert r[2] == "run" and r[3] == j["symbol"], r
    assert int(r[4]) == j["bars"], (r, j["bars"])
    assert D(r[5]) == D(j["net_pnl"]), (r[5], j["net_pnl"])
    assert r[6] == "%+.4f%%" % (j["return"] * 100), (r[6], j["return"])
    assert r[7] == "%.3f" % j["sharpe"], (r[7], j["sharpe"])
    assert r[8] == "%.3f%%" % (j["max_drawdown"] * 100)
    assert int(r[9]) == j["trade_count"]
    assert D(r[10]) == D(j["fees"])
    edges = sum(": edge over " in v for v in j["verdicts"])
    want = "no edge (0/%d)" % len(j["verdicts"]) if edges == 0 else "edge %d/%d" % (edges, len(j["verdicts"]))
    assert r[11] == want, (r[11], want)
PY
then ok "list: newest first; bars, net_pnl, return, sharpe, max dd, trades, fees, verdict = the reports"
else bad "list columns"; fi

# the newest run's report opens by itself; a click on the other row (#1: the screen's sixth
# line, SGR mouse coordinates are 1-based) opens that one; Up, Enter the newest again
wait_screen "Report #2" 10 && ok "the newest run's report is shown first" || bad "first report"
$T send-keys -t bt -l "$(printf '\033[<0;10;6M\033[<0;10;6m')"
if wait_screen "Report #1" 10 && grep -qF "#1 run  BTCUSDT binance-usdm  engine" "$tmp/screen"; then
    ok "a click on a run opens its report"
else bad "click"; fi
$T send-keys -t bt Up Enter
if wait_screen "Report #2" 10 && grep -qF "#2 run  BTCUSDT binance-usdm  rules" "$tmp/screen"; then
    ok "Up, Enter opens the selected run's report"
else bad "Enter"; fi

# 4. select the perp run (Down, Enter): its report, zoomed, top and bottom
$T send-keys -t bt Down Enter
wait_screen "Report #1" 10 || bad "back to #1"
$T send-keys -t bt Tab z
sleep 0.3
$T send-keys -t bt Home
sleep 0.3
cap; cp "$tmp/screen" "$tmp/top"
$T send-keys -t bt End
sleep 0.3
cap; cat "$tmp/top" "$tmp/screen" > "$tmp/report"
if python3 - "$tmp/report" "$tmp/perp.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); j = json.load(open(sys.argv[2]))
def g(v): return "-" if v is None else v if isinstance(v, str) else "%.6g" % v
assert "#1 run  BTCUSDT binance-usdm  engine  seed 1  source BACKTEST" in scr
want = "net_pnl %s  fees %s  funding %s" % (j["net_pnl"], j["fees"], j["funding"])
assert want in scr, want
ci, ens = j["intervals"], j["metrics"]["ensemble"]
for k, n in (("return", "%d bars" % j["bars"]), ("sharpe", "%d bars" % j["bars"]),
             ("accuracy", "%d signals" % ens["n"])):
    v = ens["accuracy"] if k == "accuracy" else j[k]
    pat = r"%s +%s +\[%s, %s\] +%s" % (k, re.escape(g(v)), re.escape(g(ci[k]["lo"])),
                                       re.escape(g(ci[k]["hi"])), n)
    assert re.search(pat, scr), pat
for k in ("sortino", "max_drawdown", "win_rate", "profit_factor", "expectancy", "exposure"):
    assert re.search(r"│%s +%s " % (k, re.escape(g(j[k]))), scr), k
for name, m in [("ensemble", ens)] + list(j["metrics"]["models"].items()):
    pat = r"│%s +%d +%.4f +%.4f +%.4f +%.4f +%.4f +%.4f" % (name, m["n"], m["accuracy"], m["f1"],
        m["brier"], m["log_loss"], m["ece"], m["weight"])
    assert re.search(pat, scr), pat
for name, b in j["baselines"].items():
    assert re.search(r"│%s +%s" % (name, re.escape(g(b["return"]))), scr), name
for v in j["verdicts"]:
    assert "  " + v in scr, v
PY
then ok "report: net P&L, fees, metrics with CIs and n, models, baselines, every verdict = the JSON"
else bad "report numbers"; cat "$tmp/report"; fi
if python3 - "$tmp/report" "$tmp/perp.txt" "$tmp/perp.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); txt = open(sys.argv[2]).read(); j = json.load(open(sys.argv[3]))
for title in ("equity curve (%d points; ':' = drawdown from the peak)" % len(j["equity_curve"]),
              "reliability (ensemble;", "returns per month (UTC)",
              "trade P&L distribution (%d trades, after fees)" % j["trade_count"]):
    assert title in scr and title in txt, title
# the same rows as the text report, bars sized to the pane: compare up to the bar
rel = re.findall(r"^    (\d\.\d-\d\.\d  n +\d+  conf \S+  hit \S+)  \[", txt, re.M)
assert len(rel) > 3 and all(("  " + r + "  [") in scr for r in rel), rel
mon = re.findall(r"^    (\d{4}-\d\d  +\S+%)", txt, re.M)
assert mon and all(m in scr for m in mon), mon
bk = re.findall(r"^    (\[ *\S+, +\S+[)\]] +\d+)", txt, re.M)
assert bk and all(b in scr for b in bk), bk  # 10 buckets, or one per value when fewer
assert sum(int(b.split()[-1]) for b in bk) == j["trade_count"]
# the equity curve: the peak and the trough labels of the text report's plot
top, low = re.findall(r"^  +(\d+\.\d\d) \|", txt, re.M)[:2]
assert re.search(r"│ *%s \|" % re.escape(top), scr) and re.search(r"│ *%s \|" % re.escape(low), scr)
assert "*" in scr
PY
then ok "plots: equity curve, reliability bins, months and trade buckets = the text report's"
else bad "plots"; fi
if grep -q "…" "$tmp/report"; then bad "160 columns: a report line was not drawn whole"
else ok "160 columns: every report line whole"; fi

# 5. small terminals: the screen still works, numbers whole or the ellipsis
$T send-keys -t bt z
$T resize-window -t bt -x 60 -y 20 >/dev/null 2>&1
sleep 0.5
if wait_screen "source BACKTEST" 5; then ok "60x20: the screen is drawn"; else bad "60x20"; fi
if python3 - "$tmp/screen" "$tmp/perp.json" "$tmp/lean.json" <<'PY'
import json, re, sys
from decimal import Decimal as D
scr = open(sys.argv[1]).read()
pnls = {json.load(open(f))["net_pnl"] for f in sys.argv[2:]}
lines = scr.split("\n")
head = [l for l in lines if "net_pnl" in l and "#" in l]
assert head, "no net_pnl column at 60 columns"
end = head[0].index("net_pnl") + len("net_pnl")  # the column is right-aligned, 14 wide
rows = [l for l in lines if re.match(r"│ *\d+[* ] ", l)]
assert rows, scr
for l in rows:
    cell = l[end - 14:end].strip()
    assert cell == "…" or any(D(cell) == D(p) for p in pnls), cell
PY
then ok "60x20: the net_pnl column is whole or the ellipsis"; else bad "60x20 numbers"; fi

# 6. a sweep stored while the app runs: one of its configurations opens like a run (ctl backtests
# open ID of its sweep_config row): its parameters, then the run report's numbers and verdicts
$T resize-window -t bt -x 160 -y 70 >/dev/null 2>&1
"$BIN" backtest --data "$LEAN" --strategy rules --sweep engine.threshold=0.5,0.65 \
    --db "$tmp/b.db" --json "$tmp/sw.json" > /dev/null 2>&1 || bad "sweep stored"
cid=$(sqlite3 "$tmp/b.db" "SELECT max(id) FROM backtests WHERE kind = 'sweep_config'")
"$BIN" ctl --socket "$tmp/b.sock" backtests reload > /dev/null 2>&1
"$BIN" ctl --socket "$tmp/b.sock" backtests open "$cid" > /dev/null 2>&1
if wait_screen "Report #$cid" 10; then ok "ctl backtests open ID opens a sweep configuration"
else bad "open a configuration"; fi
$T send-keys -t bt z
sleep 0.3
$T send-keys -t bt Home
sleep 0.3
cap; cp "$tmp/screen" "$tmp/ctop"
$T send-keys -t bt End
sleep 0.3
cap; cat "$tmp/ctop" "$tmp/screen" > "$tmp/creport"
if python3 - "$tmp/creport" "$tmp/b.db" "$cid" <<'PY'
import json, sqlite3, sys
scr = open(sys.argv[1]).read()
c = sqlite3.connect(sys.argv[2])
rep, parent = c.execute("SELECT report, parent_id FROM backtests WHERE id = ?", (int(sys.argv[3]),)).fetchone()
j = json.loads(rep)
assert "configuration %d of sweep #%d: %s" % (j["index"], parent, j["params"]) in scr
assert "net_pnl %s  fees %s  funding %s" % (j["net_pnl"], j["fees"], j["funding"]) in scr
assert "equity curve (%d points;" % len(j["equity_curve"]) in scr
assert "trade P&L distribution (%d trades, after fees)" % j["trade_count"] in scr
assert j["verdicts"] and all("  " + v in scr for v in j["verdicts"])
PY
then ok "a configuration's report: its params, net P&L, fees, plots and verdicts = its stored report"
else bad "configuration report"; cat "$tmp/creport"; fi
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
