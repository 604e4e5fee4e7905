#!/bin/sh
# Screens at every size, and numbers that never lie: the real program replays the bundled
# captures to their end in a private tmux server; then, on every screen at 60x20, 80x24,
# 120x40, 160x23, 79x48, 200x60 and 250x70, the screen is read with capture-pane and each
# labelled number is compared with the model's value from `kestrel ctl`: the OHLC fields of the
# bar under the chart cursor (`ctl candles`), every book ladder row (price, qty: `ctl book`),
# the spread, the watchlist's last prices and the chart's last-price marker (`ctl status`).
# Also: a resize storm, SGR mouse clicks and the wheel through send-keys, and the screens
# (1-5, F2-F6). Prints "N passed, N failed". Needs tmux and python3; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init sizes python3
ctl() { "$BIN" ctl --socket "$tmp/s" --timeout 5 "$@"; }
# resize W H: until the screen is drawn at W x H (its border lines are W wide) with the status
resize() {
    $T resize-window -t k -x "$1" -y "$2"
    n=$((50 * slow))
    while [ "$n" -gt 0 ]; do
        cap
        if python3 - "$tmp/screen" "$1" "$2" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
w, h = int(sys.argv[2]), int(sys.argv[3])
# curses sends a frame top to bottom: the last border row whole and the key line mean it is all out
ok = len(lines) >= h and any(len(l) == w and l[:1] in "\u250c+" for l in lines)
ok = ok and "REPLAY ENDED" in lines[0]
ok = ok and len(lines[h - 2]) == w and lines[h - 2][:1] in "\u2514+" and lines[h - 2][-1:] in "\u2518+"
ok = ok and lines[h - 1].strip() != ""
sys.exit(0 if ok else 1)
PY
        then
            # drawn completely: the same on a second look
            cp "$tmp/screen" "$tmp/screen.prev"
            sleep 0.2
            cap
            cmp -s "$tmp/screen" "$tmp/screen.prev" && return 0
        fi
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

tui_start k 120x40 --db "$tmp/k.db" --socket "$tmp/s" --speed 0
expect "REPLAY ENDED" "the replay runs to its end (status bar: REPLAY ENDED)" 60
expect "REPLAY ENDED" "... and the book title says so"
grep -qF "FINISHED" "$tmp/screen" && bad "no FINISHED label" || ok "no FINISHED label"
grep -qF " live" "$tmp/screen" && bad "books are not called live" || ok "books are not called live"
ctl status >"$tmp/status.json"
ctl book BTCUSDT 500 >"$tmp/book.json"
ctl candles BTCUSDT 1s 1 >"$tmp/bar.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/status.json" &&
    ok "ctl status answers" || bad "ctl status answers"
# the chart cursor on the newest closed bar, so its OHLC can be compared with ctl candles
keys h
expect "[history]" "h puts the chart cursor on the last closed bar"

# scan.py SCREEN: every labelled number against the model; prints problems, exits 1 on any
cat >"$tmp/scan.py" <<'EOF'
import json, re, sys
scr = open(sys.argv[1], encoding="utf-8").read()
st = json.load(open(sys.argv[2]))
book = json.load(open(sys.argv[3]))
bar = json.load(open(sys.argv[4]))["candles"][-1]
syms = {s["symbol"]: s for s in st["symbols"] if s["venue"] == "binance-spot"}
bad, seen = [], 0
num = r"(-?\d+(?:\.\d+)?)"
for line in scr.splitlines():
    # OHLC of the bar under the cursor (no '*': a closed bar)
    if re.search(r"\d\d:\d\d(:\d\d)?  O ", line):
        for lab, key in (("O", "o"), ("H", "h"), ("L", "l"), ("C", "c"), ("V", "volume")):
            m = re.search(r"(?<![A-Za-z])" + lab + " " + r"(-?[0-9.]+|\u2026)", line)
            if not m:
                continue
            seen += 1
            if m.group(1) != bar[key] and m.group(1) != "\u2026":
                bad.append("%s shows %s, the bar has %s" % (lab, m.group(1), bar[key]))
    # watchlist last prices
    for name, s in syms.items():
        for m in re.finditer(re.escape(name) + r" +" + num + r"(?=[ \u2502|]|$)", line):
            if "." not in m.group(1):
                continue
            seen += 1
            if m.group(1) != s["last_price"]:
                bad.append("%s shows %s, last_price %s" % (name, m.group(1), s["last_price"]))
    # the last-price marker on the chart's axis
    for m in re.finditer("\u25c0" + num, line):
        seen += 1
        if m.group(1) != syms["BTCUSDT"]["last_price"]:
            bad.append("marker %s, last_price %s" % (m.group(1), syms["BTCUSDT"]["last_price"]))
    # book ladder rows: "price qty total" right before the book's right border
    for m in re.finditer(r"(\d+\.\d\d) +(\d+\.\d+) +(\d+\.\d+)\u2502\s*$", line):
        seen += 1
        px, q = m.group(1), m.group(2)
        lv = {p: qq for p, qq in book["bids"] + book["asks"]}
        if lv.get(px) != q:
            bad.append("book row %s %s, the book has %s" % (px, q, lv.get(px)))
    m = re.search(r"spread " + num, line)
    if m and "Book ETHUSDT" not in scr:
        seen += 1
        want = "%.2f" % (float(st["symbols"][0]["best_ask"]) - float(st["symbols"][0]["best_bid"]))
        if m.group(1) != want:
            bad.append("spread %s, the book says %s" % (m.group(1), want))
for b in bad:
    print(b)
print("numbers read: %d" % seen)
sys.exit(1 if bad or seen == 0 else 0)
EOF

# sys.py SCREEN STATUS: the System screen's labelled counters equal the status document's
cat >"$tmp/sys.py" <<'EOF'
import json, re, sys
scr = open(sys.argv[1], encoding="utf-8").read()
st = json.load(open(sys.argv[2]))
want = {"messages": st["messages"], "rows written": st["store"]["rows_written"],
        "malformed": st["malformed"]}
seen = 0
for label, v in want.items():
    for m in re.finditer(r"(?<![\w/])" + label + r" +(\d+)(?=\s*[\u2502|])", scr):
        seen += 1
        if int(m.group(1)) != v:
            print("%s shows %s, ctl says %s" % (label, m.group(1), v))
            sys.exit(1)
sys.exit(0 if seen >= 2 else 1)
EOF

for sz in 60x20 80x24 120x40 160x23 79x48 200x60 250x70; do
    w=${sz%x*}; h=${sz#*x}
    if resize "$w" "$h"; then ok "$sz: laid out"; else bad "$sz: laid out"; continue; fi
    # the chart (focused) is on every screen size; below 76 columns some panes are hidden
    grep -qF "BTCUSDT 1s" "$tmp/screen" && ok "$sz: the chart is shown" || bad "$sz: the chart"
    if [ "$w" -ge 76 ]; then
        grep -qF "Watchlist" "$tmp/screen" && grep -qF "Trades BTCUSDT" "$tmp/screen" &&
            ok "$sz: every Market pane" || bad "$sz: every Market pane"
    else
        grep -qF "+2 hidden: z to cycle" "$tmp/screen" && ok "$sz: hidden panes counted" ||
            bad "$sz: hidden panes counted"
    fi
    if python3 "$tmp/scan.py" "$tmp/screen" "$tmp/status.json" "$tmp/book.json" "$tmp/bar.json" \
        >"$tmp/scan.out" 2>&1; then
        ok "$sz: every labelled number matches kestrel ctl ($(tail -n 1 "$tmp/scan.out"))"
    else
        bad "$sz: every labelled number matches kestrel ctl"
        cat "$tmp/scan.out"
    fi
    # the other screens draw at this size too
    for s in 2 3 4 5; do
        keys "$s"
        case $s in
        2) want="Trading" ;; 3) want="AI" ;; 4) want="Counters" ;; 5) want="Backtests" ;;
        esac
        if wait_for "$want" 5; then :; else bad "$sz: screen $s"; fi
        if [ "$s" = 4 ]; then # the System screen's counters against ctl status (bounded poll)
            n=$((30 * slow)); good=1
            while [ $n -gt 0 ]; do
                cap
                ctl status >"$tmp/status4.json"
                python3 "$tmp/sys.py" "$tmp/screen" "$tmp/status4.json" >"$tmp/sys.out" &&
                    { good=0; break; }
                sleep 0.1
                n=$((n - 1))
            done
            [ $good = 0 ] && ok "$sz: System screen counters match ctl status" ||
                { bad "$sz: System screen counters match ctl status"; cat "$tmp/sys.out"; }
        fi
    done
    keys 1
    wait_for "BTCUSDT 1s" 5 && ok "$sz: screens 2-5 and back to 1" || bad "$sz: back to screen 1"
done

# below 60x20: the focused pane alone; below 20x6 a message that fits
resize 50 15 && grep -qF "BTCUSDT 1s" "$tmp/screen" && ! grep -qF "Watchlist" "$tmp/screen" &&
    ok "50x15: the focused pane alone" || bad "50x15: the focused pane alone"
$T resize-window -t k -x 15 -y 5
expect "too small" "15x5: 'too small' fits"

# a resize storm, then status still answers and the layout comes back
for i in 1 2 3 4 5 6 7 8 9 10; do
    $T resize-window -t k -x $((40 + i * 19)) -y $((10 + i * 5))
done
$T resize-window -t k -x 120 -y 40
expect "Watchlist" "after a resize storm the layout is back"
ctl status >/dev/null && ok "after a resize storm status answers" || bad "status after the storm"

# mouse (SGR): a click on ETHUSDT in the watchlist selects it, a second click focuses it;
# the wheel over the tape scrolls it back (+3 newer); F2..F6 switch screens. Polled: right after
# the storm a capture may still be of a size in between, where "Watchlist" shows but not the row
eth_row() { cap; [ "$(wc -l < "$tmp/screen")" -eq 40 ] && grep -q "^.  ETHUSDT" "$tmp/screen"; }
kt_poll $((50 * slow)) eth_row
row=$(grep -n "^.  ETHUSDT" "$tmp/screen" | head -n 1 | cut -d: -f1)
if [ -n "$row" ]; then
    keys -l "$(printf '\033[<0;6;%dM\033[<0;6;%dm' "$row" "$row")"
    expect "[watchlist]" "a click focuses the watchlist"
    keys -l "$(printf '\033[<0;6;%dM\033[<0;6;%dm' "$row" "$row")"
    expect "Book ETHUSDT" "a click on the selected row focuses ETHUSDT"
else
    bad "ETHUSDT in the watchlist"
fi
trow=$(grep -n "Trades " "$tmp/screen" | head -n 1 | cut -d: -f1)
keys -l "$(printf '\033[<65;110;%dM' $((trow + 3)))"
expect "+3 newer" "the wheel over the tape scrolls it back"
keys F5
expect "Counters" "F5 opens the System screen"
keys F2
expect "Watchlist" "F2 is the Market screen"
keys F1
expect "Legend:" "F1 opens the help with the legend"
keys F1

# --theme with an unknown theme: exit 2 and a message, like any bad value
$T new-session -d -s t -x 80 -y 24 \
    "env LANG=C.UTF-8 TERM=screen-256color $BIN --db $tmp/k2.db --socket $tmp/s2 \
     --theme no-such-theme 2>$tmp/theme.err; echo \$? >$tmp/theme.rc; sleep 60"
n=$((50 * slow))
while [ $n -gt 0 ] && [ ! -s "$tmp/theme.rc" ]; do sleep 0.1; n=$((n - 1)); done
[ "$(cat "$tmp/theme.rc" 2>/dev/null)" = 2 ] && ok "--theme no-such-theme exits 2" ||
    bad "--theme no-such-theme exits 2 (got $(cat "$tmp/theme.rc" 2>/dev/null))"
grep -qF "unknown theme 'no-such-theme'" "$tmp/theme.err" && ok "... and says why" ||
    bad "... and says why"

keys F10
expect "Quit Kestrel?" "F10 asks to quit"
keys y
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
