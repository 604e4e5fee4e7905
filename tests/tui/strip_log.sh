#!/bin/sh
# TUI tests of the Market screen's trading strip, the watchlist's change basis and the System
# screen's log tail, on the real program replaying the bundled capture in a private tmux server:
#  - the strip says "no positions" / "no signal yet" before anything happened, then, after a
#    paper order over the control socket filled, the open positions and the day's P&L that
#    `kestrel ctl portfolio` reports (replay paused, so both read the same state);
#  - at the end of the replay its latest signal (action, symbol, confidence) is the one
#    `ctl status` (ui.strip) gives, and ui.strip agrees with the trading section;
#  - the watchlist names its change basis (`chg sess`: no 24 h reference in an 11-minute capture)
#    and `ctl status` says change_basis "session" for every symbol;
#  - screen 4's Log pane shows the newest lines of the --log file (from the logger's memory).
# Prints "N passed, N failed". Needs tmux and python3; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init strip python3
ctl() { "$BIN" ctl --socket "$tmp/s" --timeout 5 "$@"; }
# until `cmd` holds (bounded): poll_cmd seconds cmd...
poll_cmd() {
    n=$(($1 * 10 * slow))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# strip.py SCREEN STATUS: the strip's two lines against ui.strip (prints the problem, exit 1)
cat >"$tmp/strip.py" <<'EOF'
import json, re, sys
scr = open(sys.argv[1], encoding="utf-8").read()
st = json.load(open(sys.argv[2]))
s = st["ui"]["strip"]
n = s["positions"]
pos = "no positions" if n == 0 else "%d position%s" % (n, "" if n == 1 else "s")
want1 = [pos + "  day P&L " + s["day_pnl"] + " USDT", pos + "  day " + s["day_pnl"]]
if not any(w in scr for w in want1):
    print("strip line 1: none of %r on screen" % want1); sys.exit(1)
pf = st["trading"]["portfolio"]
if n != pf["open_positions"] or s["day_pnl"] != pf["day_pnl"]: # exact decimal strings
    print("ui.strip %r != trading.portfolio %r" % (s, pf)); sys.exit(1)
g = s["signal"]
if g is None:
    if "no signal yet" not in scr:
        print("no 'no signal yet'"); sys.exit(1)
else:
    want2 = "%s %s conf %.3f" % (g["action"], g["symbol"], g["confidence"])
    if want2 not in scr:
        print("strip line 2: %r not on screen" % want2); sys.exit(1)
print("strip: %d positions, day %s, signal %s" % (n, s["day_pnl"], g and g["action"]))
EOF

tui_start k 120x40 --db "$tmp/k.db" --socket "$tmp/s" --log "$tmp/k.log" --speed 1 \
    --replay data/replay/btcusdt_20240808.gz
expect "Watchlist" "the Market screen is drawn" 10
expect "── trading" "the trading strip is under the watchlist"
expect "no positions  day 0.00" "before any order: no positions, day P&L 0.00"
expect "no signal yet" "before the first signal: no signal yet"
expect "chg sess" "the watchlist names its change basis (no 24 h reference in the capture)"
poll 10 'j["symbols"][0]["book_state"]' live && ok "the book syncs" || bad "the book syncs"
check_basis() { [ "$(st '",".join(sorted(set(s["change_basis"] for s in j["symbols"])))')" = session ]; }
check_basis && ok "ctl status: change_basis session for every symbol" ||
    bad "ctl status: change_basis session for every symbol"
[ "$(st 'j["symbols"][0]["change_ref"] is not None')" = True ] &&
    ok "ctl status: the session reference price" || bad "ctl status: the session reference price"

# a paper order: the strip shows the open position and the day's P&L of ctl portfolio
ctl order BTCUSDT buy 0.01 >"$tmp/o.json" 2>&1 && ok "a paper order is accepted" ||
    { bad "a paper order is accepted"; cat "$tmp/o.json"; }
poll 20 'j["trading"]["portfolio"]["open_positions"]' 1 && ok "the order fills: one position" ||
    bad "the order fills: one position"
ctl pause >/dev/null
poll 5 'j["paused"]' True || poll 5 'j["replay"]["paused"]' True || :
strip_ok() {
    cap
    ctl status >"$tmp/st2.json" &&
        python3 "$tmp/strip.py" "$tmp/screen" "$tmp/st2.json" >"$tmp/strip.out" 2>&1
}
if poll_cmd 10 strip_ok; then ok "paused: the strip shows what ctl says ($(cat "$tmp/strip.out"))"
else bad "paused: the strip shows what ctl says"; cat "$tmp/strip.out"; fi
grep -qF "1 position  day" "$tmp/screen" && ok "one position on the strip" || bad "one position on the strip"
ctl portfolio >"$tmp/pf.json"
pnl=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["day_pnl"])' "$tmp/pf.json")
what="the day P&L on the strip is ctl portfolio's ($pnl)"
python3 - "$tmp/screen" "$pnl" <<'EOF' && ok "$what" || bad "$what"
import re, sys
scr = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"day (?:P&L )?(-?\d+\.\d+)(?= |\u2502|$)", scr, re.M)
sys.exit(0 if m and m.group(1) == sys.argv[2] else 1) # exact, every decimal
EOF

# to the end at full speed: signals were made; the latest is on the strip
ctl resume >/dev/null
ctl speed 0 >/dev/null 2>&1 || keys '>' '>' '>' '>' '>' '>' '>' '>'
expect "REPLAY ENDED" "the replay runs to its end" 60
[ "$(st 'j["trading"]["signals"] > 0 and j["ui"]["strip"]["signal"] is not None')" = True ] &&
    ok "signals were made and ui.strip has the latest" || bad "signals were made and ui.strip has the latest"
if poll_cmd 10 strip_ok; then ok "ended: the strip shows what ctl says ($(cat "$tmp/strip.out"))"
else bad "ended: the strip shows what ctl says"; cat "$tmp/strip.out"; fi
# narrower: the strip keeps its lines whole (a shorter form); the basis: in the title when it has
# room (120x40), else in a header row
$T resize-window -t k -x 80 -y 24
expect "chg sess    Last" "80x24: the narrow watchlist's header row names the basis"
wait_for "── trading" 5 && grep -qE "(no positions|1 pos)" "$tmp/screen" &&
    ok "80x24: the strip is still shown" || bad "80x24: the strip is still shown"
$T resize-window -t k -x 120 -y 40

# screen 4: the log's tail, newest at the bottom, from the logger's memory (the --log file's
# last lines, cut with the ellipsis where the pane is narrower)
keys 4
expect "Counters" "screen 4"
logtail_ok() {
    cap
    python3 - "$tmp/screen" "$tmp/k.log" <<'EOF'
import re, sys
scr = open(sys.argv[1], encoding="utf-8").read().splitlines()
log = open(sys.argv[2], encoding="utf-8").read().splitlines()
# the Log pane is the bottom right box: its inner text of each row
rows = []
for l in scr:
    parts = l.split("\u2502")
    if len(parts) >= 4:
        rows.append(parts[-2].rstrip())
want = []
for l in log[-3:]: # "2026-...T12:55:54.838Z INFO  message" -> "12:55:54 INFO  message"
    want.append(l[11:19] + " " + l[25:])
got = [r for r in rows if re.match(r"\d\d:\d\d:\d\d (INFO |WARN |ERROR|DEBUG)", r)]
if len(got) < 3:
    print("tail rows: %r" % got); sys.exit(1)
for g, w in zip(got[-3:], want):
    g2 = g[:-1].rstrip() if g.endswith("\u2026") else g
    if not w.startswith(g2) or (not g.endswith("\u2026") and g != w):
        print("shown %r, log %r" % (g, w)); sys.exit(1)
sys.exit(0)
EOF
}
if poll_cmd 10 logtail_ok >"$tmp/lt.out" 2>&1; then ok "the Log pane shows the log file's last three lines"
else bad "the Log pane shows the log file's last three lines"; cat "$tmp/lt.out"; fi
grep -qF "replay finished" "$tmp/screen" && ok "... the replay's end is among them" ||
    bad "... the replay's end is among them"

keys q y
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
