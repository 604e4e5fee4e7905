#!/bin/sh
# TUI test of screen 3 (AI): the real program on the bundled real replay with a 60 s horizon,
# in a private tmux server. The screen's numbers are the engine's: the "Learning: N outcomes,
# need M for calibration" line equals `ctl metrics` calibration n / need, the ensemble's and
# every model's n and accuracy equal ctl metrics, the reliability diagram's counts add up to the
# scored signals, the signals list shows the newest signal with its action and top reasons,
# the indicator weights and the alerts section are there; a narrow terminal (80x30) still shows
# the learning state and the newest signals. Prints "N passed, N failed".
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
if grep -qE "^│[0-9:]{8} BTCUSDT +(BUY|SELL|HOLD) " "$tmp/screen" &&
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
$T resize-window -t ai -x 80 -y 30 >/dev/null 2>&1
sleep 0.3
if wait_screen "Learning:" 5 && grep -qE "^│[0-9:]{8} BTCUSDT" "$tmp/screen"; then
    ok "80x30: learning state and the newest signals still shown"
else bad "narrow"; fi
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
