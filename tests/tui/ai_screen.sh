#!/bin/sh
# TUI test of screen 3 (AI): the real program on the bundled real replay with a 60 s horizon,
# in a private tmux server. The screen's numbers are the engine's: the "Learning: N outcomes,
# need M for calibration" line equals `ctl metrics` calibration n / need, the ensemble's and
# every model's n and accuracy equal ctl metrics, the reliability diagram's counts add up to the
# scored signals, the signals list shows the newest signal with its action and top reasons,
# the indicator weights and the alerts section are there; the signals list has a cursor (j / k /
# arrows) and the selected signal's full reasoning equals its stored row; `g` makes a signal
# that becomes the selection; a narrow terminal (80x30) still shows the learning state and the
# newest signals. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init ai
TUI_S=ai
printf 'engine: { horizon = 60; };\n' > "$tmp/h.cfg"
$T new-session -d -s ai -x 160 -y 50 "$BIN --speed 0 --config $tmp/h.cfg --db $tmp/a.db \
    --socket $tmp/a.sock --log $tmp/a.log --replay data/replay/btcusdt_20240808.gz"
if wait_screen "REPLAY ENDED" 20; then ok "the replay runs to its end in tmux"; else bad "replay end"; fi
$T send-keys -t ai 3
if wait_screen "Learning:" 10; then ok "screen 3 shows the AI pane"; else bad "AI pane"; fi
"$BIN" ctl --socket "$tmp/a.sock" metrics > "$tmp/m.json" 2>/dev/null
cap
if python3 - "$tmp/screen" "$tmp/m.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[2]))
cal = m["calibration"]
want = "Learning: %d outcomes, need %d for calibration" % (cal["n"], cal["need"])
assert want in scr, want
PY
then ok "the learning line is the engine's calibration n and need"; else bad "learning line"; fi
if python3 - "$tmp/screen" "$tmp/m.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[2]))
def row(name):
    r = re.search(r"(?:^|[\s│])%s +(\d+) +(\S+)" % re.escape(name), scr, re.M)
    assert r, name
    return int(r.group(1)), r.group(2)
def fmt(v): return "-" if v is None else "%.3f" % v
e = m["ensemble"]["all_time"]
assert e["n"] > 0
assert row("ensemble") == (e["n"], fmt(e["accuracy"])), (row("ensemble"), e)
for name, v in m["models"].items():
    s = v.get("all_time", v)
    assert row(name) == (s["n"], fmt(s["accuracy"])), (name, row(name), s["n"])
for name, v in m["baselines"].items():
    s = v.get("all_time", v)
    assert row("~" + name) == (s["n"], fmt(s["accuracy"])), name
PY
then ok "ensemble, model and baseline rows: n and accuracy equal ctl metrics"; else bad "model rows"; fi
if python3 - "$tmp/screen" "$tmp/m.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[2]))
bins = re.findall(r"(\d\.\d)-(\d\.\d) +(\S+) +(\S+) +(\d+)", scr)
assert len(bins) == 10, bins
assert sum(int(b[4]) for b in bins) == m["ensemble"]["all_time"]["n"]
d = m["ensemble"]["all_time"]["deciles"]
assert [int(b[4]) for b in bins] == [x["n"] for x in d], (bins, d)
PY
then ok "reliability diagram: 10 bins whose counts are the engine's deciles"; else bad "reliability"; fi
"$BIN" ctl --socket "$tmp/a.sock" status > "$tmp/s.json" 2>/dev/null
if grep -qE "^│[> ][0-9:]{8} BTCUSDT +(BUY|SELL|HOLD) " "$tmp/screen" &&
   grep -qE "indicator weights" "$tmp/screen" && grep -qE "alerts \([0-9]+ raised, [0-9]+ drift events\)" "$tmp/screen"; then
    ok "signals list, indicator weights and alerts are drawn"
else bad "signals / weights / alerts"; fi
if grep -qE "^│  [A-Za-z]" "$tmp/screen"; then ok "signals carry their top reasons"; else bad "reasons"; fi
if python3 - "$tmp/screen" "$tmp/m.json" <<'PY'
import json, re, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[2]))
parts = re.findall(r"(?:samples:| {8})((?: [a-z]+ \d+)+)", scr)
assert parts, "no samples line"
toks = " ".join(parts).split()
got = dict(zip(toks[0::2], map(int, toks[1::2])))
want = {k: v["samples"] for k, v in m["models"].items()}
assert got == want, (got, want)
PY
then ok "every model's samples are shown, equal to ctl metrics"; else bad "samples line"; fi
# the signals list has a cursor (the list widget): the newest is selected at first, j / k move
# it, and the selected signal's full reasoning is shown beside the list: what it said, every
# model's probabilities, regime, source, reasons and, once scored, outcome / result / return /
# MFE / MAE / first hit, all equal to its stored row
detail_is() { # sig_id: the detail area shows that signal, as stored (run on $tmp/screen)
    python3 - "$tmp/screen" "$tmp/a.db" "$tmp/m.json" "$1" "$2" <<'PY'
import json, re, sqlite3, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[3])); sid = int(sys.argv[4])
row_i = int(sys.argv[5]) # the selected one's place in the list (0 = newest)
db = sqlite3.connect(sys.argv[2])
r = db.execute("select action, confidence, strength, p_buy, p_hold, p_sell, regime, source,"
               " scored, outcome, result, ret, mfe, mae, first_hit, reasons, time_ms from signals"
               " where sig_id = ? order by id desc limit 1", (sid,)).fetchone()
assert r, sid
(act, conf, st, pb, ph, ps, reg, src, scored, oc, res, ret, mfe, mae, fh, why, t) = r
hd = re.search(r"signal #(\d+) (\d\d:\d\d:\d\d) BTCUSDT (BUY|SELL|HOLD)  conf ([0-9.]+).*strength ([0-9.]+)", scr)
assert hd, "no detail header"
assert int(hd.group(1)) == sid and hd.group(3) == act, (hd.groups(), sid, act)
assert hd.group(4) == "%.3f" % conf and hd.group(5) == "%.2f" % st, (hd.groups(), conf, st)
assert "p buy %.3f hold %.3f sell %.3f" % (pb, ph, ps) in scr, "probabilities"
assert ("regime %s  source %s" % (reg, src)) in scr, "regime / source"
if scored:
    want = "outcome %s %s  return %+.3f%%  MFE %.3f%%  MAE %.3f%%  first hit %s" % (
        oc, res, ret * 100, mfe * 100, mae * 100, fh)
    assert want in scr, want
else:
    assert "pending: scored at" in scr, "pending line"
assert ("reasons: " + why)[:60] in scr, why
# one breakdown line per model (kept for the newest signals)
for name in m["models"]:
    assert re.search(r"│  %s: (buy [0-9.]+ hold [0-9.]+ sell [0-9.]+  w [0-9.]+|not ready)" % re.escape(name), scr), name
# the `>` marks the selected row, and only it
rows = re.findall(r"^│([> ])[0-9:]{8} BTCUSDT", scr, re.M)
assert rows.count(">") == 1 and rows.index(">") == row_i, (rows, row_i)
PY
}
newest=$(sqlite3 "$tmp/a.db" "select max(sig_id) from signals")
cap
if detail_is "$newest" 0; then ok "AI cursor: the newest signal is selected, its full reasoning shown as stored"
else bad "newest selected"; fi
$T send-keys -t ai j j j j
sleep 0.2
wait_screen "signal #$((newest - 4)) " 5
if detail_is "$((newest - 4))" 4 && grep -q "outcome " "$tmp/screen"; then
    ok "AI cursor: j moves the selection down; a scored signal shows outcome, result, return, MFE, MAE"
else bad "j / scored detail"; fi
$T send-keys -t ai k
wait_screen "signal #$((newest - 3)) " 5
if detail_is "$((newest - 3))" 3; then ok "AI cursor: k moves it up"; else bad "k"; fi
$T send-keys -t ai Up
wait_screen "signal #$((newest - 4 + 2)) " 5
if detail_is "$((newest - 2))" 2; then ok "AI cursor: the arrows move it too"; else bad "Up"; fi
# after a restart on later data the engine's history holds only the restored pending signals:
# their reasons are not in memory any more, the screen reads them from the signals table
$T kill-session -t ai >/dev/null 2>&1
n=$((100 * slow)); while [ "$n" -gt 0 ] && pgrep -f -- "--db $tmp/a.db" >/dev/null 2>&1; do
    sleep 0.1; n=$((n - 1)); done # the first one has exited (its database lock is free)
$T new-session -d -s ai -x 160 -y 50 "$BIN --speed 0 --config $tmp/h.cfg --db $tmp/a.db \
    --socket $tmp/a.sock --log $tmp/b.log --replay data/replay/btcusdt_20240809.gz"
if wait_screen "REPLAY ENDED" 20; then ok "restart: the next replay runs in tmux"; else bad "restart replay"; fi
$T send-keys -t ai 3
wait_screen "Learning:" 10 || wait_screen "calibrated" 5
"$BIN" ctl --socket "$tmp/a.sock" status > "$tmp/s2.json" 2>/dev/null
cap
if python3 - "$tmp/s2.json" "$tmp/a.db" "$tmp/screen" <<'PY'
import json, sqlite3, sys
st = json.load(open(sys.argv[1]))["trading"]["model_state"]
assert st["restored_version"] > 0 and st["reasons_read"] > 0, st
db = sqlite3.connect(sys.argv[2])
scr = open(sys.argv[3]).read()
first = db.execute("select min(id) from signals where session_id = (select max(session_id) from signals)").fetchone()[0]
old = [r[0] for r in db.execute("select reasons from signals where id < ? and reasons <> '' order by id desc limit 40", (first,))]
assert any(("  " + t)[:60].rstrip() in scr for t in old), "no stored reason on screen"
PY
then ok "restart: reasons of restored signals come from the database"; else bad "reasons from the database"; fi
# the oldest signal in the list (End) is a restored one: its model breakdown is read from its
# stored replay record on the store's writer thread, with the ensemble weights stored with its
# row (signals.weights); a row without them (written before the column) shows "w -"
$T send-keys -t ai End
screen_re() { cap; grep -qE -- "$1" "$tmp/screen"; }
kt_poll $((10 * 10 * slow)) screen_re "sell [0-9.]+  w [0-9]"
older_breakdown() { # screen metrics db weights|none
python3 - "$@" <<'PY'
import json, re, sqlite3, sys
scr = open(sys.argv[1]).read(); m = json.load(open(sys.argv[2]))
db = sqlite3.connect(sys.argv[3]); want = sys.argv[4]
rows = re.findall(r"^│([> ])[0-9:]{8} BTCUSDT", scr, re.M)
assert rows and rows[-1] == ">" and rows.count(">") == 1, rows   # End: the last row
sid = int(re.search(r"signal #(\d+) ", scr).group(1))
first = db.execute("select min(id) from signals where session_id = (select max(session_id) from signals)").fetchone()[0]
wt = db.execute("select weights from signals where sig_id = ? and id < ? order by id desc limit 1", (sid, first)).fetchone()[0]
if want == "weights":
    ws = ["%.2f" % float(x) for x in wt.split(",")]
    assert len(ws) == len(m["models"]), (wt, m["models"].keys())
else:
    assert wt is None, wt
    ws = ["-"] * len(m["models"])
for name, w in zip(m["models"], ws):
    assert re.search(r"│  %s: (buy [0-9.]+ hold [0-9.]+ sell [0-9.]+  w %s|not ready)" % (re.escape(name), re.escape(w)), scr), (name, w)
assert re.search(r"buy [0-9.]+ hold [0-9.]+ sell [0-9.]+  w ", scr)
print(sid)
PY
}
if sid=$(older_breakdown "$tmp/screen" "$tmp/m.json" "$tmp/a.db" weights); then
    ok "restart: an older signal's model breakdown and ensemble weights come from its stored row (End selects the last row)"
else bad "older breakdown"; sid=""; fi
# the same row without stored weights (as a row written before migration 12): "w -"
if [ -n "$sid" ] && sqlite3 -cmd ".timeout 5000" "$tmp/a.db" \
    "update signals set weights = null where sig_id = $sid and session_id < (select max(session_id) from signals)"; then
    $T send-keys -t ai k; wait_gone "signal #$sid " 5 # another row's record is read, then
    $T send-keys -t ai End                            # this row's again
    kt_poll $((10 * 10 * slow)) screen_re "sell [0-9.]+  w -"
    if older_breakdown "$tmp/screen" "$tmp/m.json" "$tmp/a.db" none >/dev/null; then
        ok "restart: a stored row without weights shows w -"
    else bad "older breakdown without weights"; fi
else bad "weights cleared"; fi
$T resize-window -t ai -x 80 -y 30 >/dev/null 2>&1
sleep 0.3
if wait_screen "Learning:" 5 && grep -qE "^│[> ][0-9:]{8} BTCUSDT" "$tmp/screen"; then
    ok "80x30: learning state and the newest signals still shown"
else bad "narrow"; fi
# g on a running (paused) replay: the on-demand signal becomes the selected one, with its
# reasoning, also when an older signal was selected
$T kill-session -t ai >/dev/null 2>&1
n=$((100 * slow)); while [ "$n" -gt 0 ] && pgrep -f -- "--db $tmp/a.db" >/dev/null 2>&1; do
    sleep 0.1; n=$((n - 1)); done
rm -f "$tmp/a.db" "$tmp/a.db-wal" "$tmp/a.db-shm"
$T new-session -d -s ai -x 160 -y 50 "$BIN --speed 8 --config $tmp/h.cfg --db $tmp/a.db \
    --socket $tmp/a.sock --log $tmp/g.log --replay data/replay/btcusdt_20240808.gz"
$T send-keys -t ai 3
sigs() { "$BIN" ctl --socket "$tmp/a.sock" status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["trading"]["signals"])' 2>/dev/null || echo 0; }
n=$((300 * slow)); while [ "$n" -gt 0 ] && [ "$(sigs)" -lt 4 ]; do sleep 0.1; n=$((n - 1)); done
$T send-keys -t ai ' '
wait_screen "PAUSED" 10
m0=$(sigs)
$T send-keys -t ai j j
wait_screen "signal #$((m0 - 2)) " 5
if grep -q "signal #$((m0 - 2)) " "$tmp/screen"; then ok "g: an older signal is selected first"; else bad "older selected"; fi
$T send-keys -t ai g
wait_screen "signal #$((m0 + 1)) " 5
m1=$(sigs)
if [ "$m1" -eq $((m0 + 1)) ] && grep -q "signal #$m1 " "$tmp/screen" &&
   [ "$(grep -cE "^│>[0-9:]{8} BTCUSDT" "$tmp/screen")" -eq 1 ] &&
   grep -A1 -E "^│ time +symbol" "$tmp/screen" | grep -qE "^│>[0-9:]{8} BTCUSDT"; then
    ok "g: the on-demand signal is made and becomes the selected one (top row, its detail)"
else bad "g selects its signal ($m0 -> $m1)"; fi
if python3 - "$tmp/screen" <<'PY'
import re, sys
scr = open(sys.argv[1]).read()
fl = re.search(r"^ BTCUSDT (BUY|SELL|HOLD)  conf ([0-9.]+)", scr, re.M)   # g's flash line
hd = re.search(r"signal #\d+ \S+ BTCUSDT (BUY|SELL|HOLD)  conf ([0-9.]+)", scr)
assert fl and hd, (fl, hd)
assert fl.group(1) == hd.group(1) and fl.group(2) == "%.2f" % float(hd.group(2)), (fl.groups(), hd.groups())
PY
then ok "g: the detail is the signal g reported (action, confidence)"; else bad "g detail = flash"; fi
$T send-keys -t ai ' '
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
