#!/bin/sh
# TUI tests: the real program on the bundled real replay, in a private tmux server of fixed size.
# Types keys with send-keys and reads the screen with capture-pane: panes, help, zoom, focus,
# timeframe, pause, speed, quit confirmation, resizing down to 1x1 and back, and the ASCII-only
# screen under TERM=vt100 LANG=C. Prints "N passed, N failed". Needs tmux; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init test
line1() { cap; head -n 1 "$tmp/screen"; }
alive() { [ -f "$tmp/pid" ] && kill -0 "$(cat "$tmp/pid")" 2>/dev/null; }

# start NAME ENV [ARGS]: runs kestrel in a new session NAME (120x40), which becomes the current one ($S);
# its exit status lands in $tmp/rc. (A session is never killed before the next one exists: the
# server would exit and race with the new session.)
start() {
    rm -f "$tmp/rc" "$tmp/pid"
    S=$1; TUI_S=$S
    $T new-session -d -s "$S" -x 120 -y 40 \
        "env $2 sh -c 'echo \$\$ > $tmp/pid; exec $BIN --db $tmp/k.db --socket $tmp/s ${3:-}' \
         2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
}

# --- the full screen (UTF-8) -------------------------------------------------------------------
start k "LANG=C.UTF-8 LC_ALL= TERM=screen-256color"
expect "REPLAY" "status bar shows the replay source" 10
cap
head -n 1 "$tmp/screen" | grep -qF "PAPER" && ok "status bar shows the PAPER broker" ||
    bad "status bar shows the PAPER broker"
head -n 1 "$tmp/screen" | grep -qF "btcusdt_20240808.gz +3 x" &&
    ok "status bar names the replayed files" || bad "status bar names the replayed files"
expect "Watchlist" "watchlist pane"
expect "BTCUSDT" "watchlist has BTCUSDT"
expect "ETHUSDT" "watchlist has ETHUSDT"
expect "Book BTCUSDT" "order book pane"
expect "Trades BTCUSDT" "trade tape pane"
expect "BTCUSDT 1s" "chart pane with the 1s timeframe"
expect "spread" "book goes live and shows the spread" 15
expect "UTC" "data clock"
expect "msg/s" "messages per second"
expect "malformed" "malformed count"

# Ctrl-S is a key, not flow control: the replay keeps running (the control socket says so) and
# the screen keeps changing; Ctrl-Q likewise does nothing but arrive.
msgs() { "$BIN" ctl --socket "$tmp/s" --timeout 2 status 2>/dev/null |
    grep -o '"messages":[0-9]*' | head -n 1 | cut -d: -f2; }
keys C-s
m0=$(msgs)
cap
cp "$tmp/screen" "$tmp/before"
n=$((50 * slow)); m1=$m0
while [ $n -gt 0 ]; do
    m1=$(msgs)
    cap
    [ -n "$m0" ] && [ -n "$m1" ] && [ "$m1" -gt "$m0" ] && ! cmp -s "$tmp/screen" "$tmp/before" &&
        break
    sleep 0.1
    n=$((n - 1))
done
[ -n "$m0" ] && [ -n "$m1" ] && [ "$m1" -gt "$m0" ] &&
    ok "after Ctrl-S the replay advances ($m0 -> $m1 messages)" ||
    bad "after Ctrl-S the replay advances ($m0 -> $m1 messages)"
cmp -s "$tmp/screen" "$tmp/before" && bad "after Ctrl-S the screen changes" ||
    ok "after Ctrl-S the screen changes"
keys C-q

# help overlay lists every key; Esc closes it
keys '?'
if wait_for "this help" 5; then
    ok "? opens the help overlay"
    # the first capture that shows the overlay's title may hold only the top of its frame:
    # a bounded poll until every line is there (or the time is up)
    help_missing() {
        missing=""
        for k in "Tab Shift-Tab" "Up Down k j" "Left Right h l" "Home End" "PgUp PgDn" "Enter" \
            "[ ]" "space" "< >" "{ }" "Esc" "quit" "zoom" "order ticket" "indicator picker" \
            "connections" "backtests view" "settings form" "not yet" "Ctrl-L" \
            "step the first parameter" "? F1" "q F10" "1-5 F2-F6" "mouse on / off" "Legend:" \
            "imb20"; do
            grep -qF -- "$k" "$tmp/screen" || missing="$missing '$k'"
        done
        [ -z "$missing" ]
    }
    help_whole() { cap; help_missing; }
    kt_poll $((50 * slow)) help_whole
    [ -z "$missing" ] && ok "help lists every key" || bad "help lists every key (missing$missing)"
else
    bad "? opens the help overlay"
fi
keys Escape
expect_gone "this help" "Esc closes the help"
keys F1
expect "this help" "F1 opens the help (the same command as ?)"
keys Escape
expect_gone "this help" "Esc closes it again"

# focus: Tab / Shift-Tab move it (the bottom line names the focused pane)
expect "[chart]" "chart has the focus at start"
keys Tab
expect "[book]" "Tab moves the focus to the book"
keys Tab
expect "[trades]" "Tab moves the focus to the trades"
keys BTab
expect "[book]" "Shift-Tab moves the focus back"
keys BTab

# zoom the chart and back
keys z
expect_gone "Watchlist" "z zooms the chart (other panes hidden)"
cap
if grep -qF "BTCUSDT 1s" "$tmp/screen"; then ok "zoomed chart shown"; else bad "zoomed chart"; fi
keys z
expect "Watchlist" "z again restores the layout"

# timeframe
keys ']'
expect "BTCUSDT 1m" "] switches the chart to 1m"
keys ']'
expect "BTCUSDT 5m" "] again: 5m"
keys '[' '['
expect "BTCUSDT 1s" "[ goes back to 1s"

# pause / resume
keys Space
expect "PAUSED" "space pauses the replay"
line1 | grep -qF "btcusdt_20240808.gz +3 PAUSED" && ok "PAUSED keeps the file name" ||
    bad "PAUSED keeps the file name"
keys Space
expect_gone "PAUSED" "space resumes"

# the tape scrolled back stays anchored to its rows while new trades arrive: the offset
# ("+N newer") grows and the rows shown stay the same trades
tape_rows() { python3 -c '
import re, sys
rows = re.findall(r"(\d\d:\d\d:\d\d\.\d\d\d) +(\d+\.\d+) +(\d+\.\d+)", open(sys.argv[1]).read())
print("\n".join(" ".join(r) for r in rows))' "$tmp/screen"; }
keys Tab Tab
expect "[trades]" "Tab Tab focuses the trades"
# paused while it scrolls: a trade arriving between the keys and the frame would raise the
# offset past +3 before a capture could see it (the offset is checked growing below)
keys Space
wait_for "PAUSED" 5 || :
keys j j j
expect " +3 newer " "j j j scrolls the tape back three trades"
cap
tape_rows >"$tmp/rows0"
keys Space
wait_gone "PAUSED" 5 || :
n=$((100 * slow)); grown=""
while [ $n -gt 0 ]; do
    cap
    grown=$(grep -o '+[0-9]* newer' "$tmp/screen" | head -n 1 | tr -dc 0-9)
    [ -n "$grown" ] && [ "$grown" -gt 3 ] && break
    sleep 0.1
    n=$((n - 1))
done
tape_rows >"$tmp/rows1"
[ -n "$grown" ] && [ "$grown" -gt 3 ] && ok "new trades raise the offset (+$grown newer)" ||
    bad "new trades raise the offset (+$grown newer)"
[ -s "$tmp/rows0" ] && cmp -s "$tmp/rows0" "$tmp/rows1" &&
    ok "the scrolled-back rows stay put ($(wc -l <"$tmp/rows0") rows)" ||
    { bad "the scrolled-back rows stay put"; diff "$tmp/rows0" "$tmp/rows1" | head; }
keys Home
expect_gone "newer" "Home returns to the newest trades"
keys BTab BTab
expect "[chart]" "back to the chart"

# speed
before=$(line1 | grep -o 'x[0-9.]*' | head -n 1)
keys '>'
n=$((30 * slow))
while [ $n -gt 0 ]; do
    after=$(line1 | grep -o 'x[0-9.]*' | head -n 1)
    [ -n "$after" ] && [ "$after" != "$before" ] && break
    sleep 0.1
    n=$((n - 1))
done
msg="> changes the speed label ($before -> $after)"
if [ -n "$before" ] && [ "$after" != "$before" ]; then ok "$msg"; else bad "$msg"; fi
keys '<'
n=$((30 * slow))
while [ $n -gt 0 ]; do
    back=$(line1 | grep -o 'x[0-9.]*' | head -n 1)
    [ "$back" = "$before" ] && break
    sleep 0.1
    n=$((n - 1))
done
if [ "$back" = "$before" ]; then ok "< brings the speed back ($back)"; else bad "< ($back)"; fi

# the status line does not shift when the speed label changes width (x1.0 -> x16)
paper_at() { line1 | python3 -c 'import sys; print(sys.stdin.read().find("PAPER"))'; }
p0=$(paper_at)
keys '>' '>' '>' '>'
expect "x16" "four > reach x16"
p1=$(paper_at)
[ "$p0" = "$p1" ] && [ "$p0" -gt 0 ] && ok "the status line does not shift with the speed label" ||
    bad "the status line does not shift with the speed label (PAPER at $p0, then $p1)"
keys '<' '<' '<' '<'
expect "$before" "four < bring the speed back"

# watchlist: select ETHUSDT and make it the focus
keys BTab
expect "[watchlist]" "Shift-Tab from the chart focuses the watchlist"
keys Down Enter
expect "Book ETHUSDT" "Enter on ETHUSDT focuses it (book)"
expect "ETHUSDT 1s" "the chart follows the focused symbol"
keys Up Enter
expect "Book BTCUSDT" "back to BTCUSDT"

# resize
$T resize-window -t "$S" -x 80 -y 24
expect "Watchlist" "80x24 lays out all panes"
cap
if grep -qF "REPLAY" "$tmp/screen" && grep -qF "Trades" "$tmp/screen"; then
    ok "80x24 has status and tape"
else
    bad "80x24 has status and tape"
fi
$T resize-window -t "$S" -x 40 -y 10
expect_gone "Book BTCUSDT" "40x10 shows the focused pane alone"
expect "Watchlist" "40x10: the focused watchlist"
$T resize-window -t "$S" -x 15 -y 5
expect "too small" "15x5 says 'too small' (fits the width)"
$T resize-window -t "$S" -x 1 -y 1
# 1x1 (curses cannot write the only cell, the bottom-right one): the process still serves the
# control socket and the replay keeps advancing
m0=$(msgs); n=$((50 * slow)); m1=$m0
while [ $n -gt 0 ]; do
    m1=$(msgs)
    [ -n "$m0" ] && [ -n "$m1" ] && [ "$m1" -gt "$m0" ] && break
    sleep 0.1
    n=$((n - 1))
done
[ -n "$m1" ] && [ "$m1" -gt "${m0:-0}" ] && ok "at 1x1 the replay runs and status answers" ||
    bad "at 1x1 the replay runs and status answers ($m0 -> $m1)"
$T resize-window -t "$S" -x 120 -y 40
expect "Watchlist" "120x40 restores the full layout"
expect "Book BTCUSDT" "book back after resizing"

# indicator picker: clear (x, asks), pick the first entry (SMA): drawn, and kept for the next run
keys i
expect "space/Enter toggle" "i opens the indicator picker"
keys x
expect "clear every indicator?" "x in the picker asks before clearing"
keys y Space Escape
expect_gone "space/Enter toggle" "Esc closes the picker"
expect "sma_20" "the picked SMA is on the chart"
expect_gone "rsi_14" "cleared indicators are gone"
# picker parameters: + + Left steps SMA's period 20 -> 22 -> 21, kept for the next run
keys i
expect "+/- parameter" "the picker's hint names +/-"
keys + +
expect "sma_22" "+ steps the selected indicator's period"
keys Left Escape
expect_gone "+/- parameter" "Esc closes the picker again"
expect "sma_21" "the stepped SMA is on the chart"

# the screen's commands over the control socket: the same table as the keys
pane_now() { "$BIN" ctl --socket "$tmp/s" status | sed -n 's/.*"ui":{"pane":"\([a-z]*\)".*/\1/p'; }
p0=$(pane_now)
case $p0 in watch) p1=chart; l1="[chart]" ;; chart) p1=book; l1="[book]" ;;
    book) p1=tape; l1="[trades]" ;; *) p1=watch; l1="[watchlist]" ;; esac
"$BIN" ctl --socket "$tmp/s" pane-next > "$tmp/pn.json"
expect "$l1" "ctl pane-next moves the focus like Tab ($p0 -> $p1)"
grep -qF "\"pane\":\"$p1\"" "$tmp/pn.json" && ok "ctl pane-next answers the focused pane" ||
    bad "ctl pane-next answers the focused pane ($(cat "$tmp/pn.json"))"
"$BIN" ctl --socket "$tmp/s" zoom > /dev/null
expect_gone "Watchlist" "ctl zoom zooms like z"
"$BIN" ctl --socket "$tmp/s" zoom > /dev/null
"$BIN" ctl --socket "$tmp/s" pane-prev > /dev/null
expect "Watchlist" "ctl zoom again restores"
[ "$(pane_now)" = "$p0" ] && ok "ctl pane-prev moves the focus back (status ui.pane)" ||
    bad "ctl pane-prev moves the focus back (status ui.pane)"
"$BIN" ctl --socket "$tmp/s" status > "$tmp/st.json"
grep -qF '"zoom":false,"overlay":"none","rows":40,"cols":120' "$tmp/st.json" &&
    ok "status has the ui section" || bad "status has the ui section"
"$BIN" ctl --socket "$tmp/s" screen 4 > "$tmp/sc.json"
expect "Counters" "ctl screen 4 shows the System screen like 4"
grep -qF '"screen":"system"' "$tmp/sc.json" && ok "ctl screen answers the screen" ||
    bad "ctl screen answers the screen ($(cat "$tmp/sc.json"))"
"$BIN" ctl --socket "$tmp/s" screen market > /dev/null
expect "Watchlist" "ctl screen market goes back"
keys c
expect "no open position on BTCUSDT" "c closes the focused position (none open here), not a picker action"
keys o
expect "Order ticket" "o opens the order ticket"
keys Escape
expect_gone "Order ticket" "Esc closes the ticket"

# quit: confirm, refuse, confirm again
keys q
expect "Quit Kestrel?" "q asks for confirmation"
keys n
expect_gone "Quit Kestrel?" "n keeps running"
alive && ok "still running after n" || bad "still running after n"
keys q
expect "Quit Kestrel?" "q asks again"
keys y
n=$((50 * slow))
while [ $n -gt 0 ] && [ ! -f "$tmp/rc" ]; do sleep 0.1; n=$((n - 1)); done
if [ -f "$tmp/rc" ] && ! alive; then ok "y quits (process gone)"; else bad "y quits"; fi
[ -f "$tmp/rc" ] && [ "$(cat "$tmp/rc")" = 0 ] && ok "exit status 0" ||
    { bad "exit status 0 (got $(cat "$tmp/rc" 2>/dev/null))"; tail -n 30 "$tmp/stderr"; }

# --- ASCII only: TERM=vt100 LANG=C ----------------------------------------------------------
start k2 "LANG=C LC_ALL=C TERM=vt100"
$T kill-session -t k >/dev/null 2>&1
expect "REPLAY" "vt100/C: status bar" 10
expect "spread" "vt100/C: book live" 15
expect "Watchlist" "vt100/C: panes"
expect "sma_21" "vt100/C: the saved indicator choice (stepped parameter) is back"
cap
grep -qF "rsi_14" "$tmp/screen" && bad "vt100/C: only the saved indicators" ||
    ok "vt100/C: only the saved indicators"
cap
high=$(LC_ALL=C tr -d '\000-\177' <"$tmp/screen" | wc -c)
if [ "$high" -eq 0 ]; then ok "vt100/C: no byte >= 0x80 on screen"; else bad "vt100/C: ($high)"; fi
grep -qF "+-" "$tmp/screen" && ok "vt100/C: ASCII borders" || bad "vt100/C: ASCII borders"
keys '?'
expect "this help" "vt100/C: help opens"
cap
high=$(LC_ALL=C tr -d '\000-\177' <"$tmp/screen" | wc -c)
[ "$high" -eq 0 ] && ok "vt100/C: help is ASCII" || bad "vt100/C: help is ASCII ($high)"
keys Escape q y
n=$((50 * slow))
while [ $n -gt 0 ] && [ ! -f "$tmp/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ -f "$tmp/rc" ] && [ "$(cat "$tmp/rc")" = 0 ] && ok "vt100/C: quits cleanly" ||
    { bad "vt100/C: quits cleanly"; tail -n 30 "$tmp/stderr"; }

# --- the replay at full speed to its end (an unknown --theme exits 2: tests/tui/sizes.sh) ------
start k3 "LANG=C.UTF-8 LC_ALL= TERM=xterm" "--speed 0"
$T kill-session -t k2 >/dev/null 2>&1
expect "REPLAY ENDED" "the replay runs to its end" 60
expect "61602.01" "final BTCUSDT best bid on screen"
expect "61602.02" "final BTCUSDT best ask on screen"
keys q y
n=$((50 * slow))
while [ $n -gt 0 ] && [ ! -f "$tmp/rc" ]; do sleep 0.1; n=$((n - 1)); done
if [ -f "$tmp/rc" ] && [ "$(cat "$tmp/rc")" = 0 ]; then ok "finished replay quits cleanly"; else
    bad "finished replay quits cleanly"
    tail -n 30 "$tmp/stderr"
fi

# --- TERM=dumb cannot move the cursor: a clear error and exit 1, not one garbled line ------------
start k5 "LANG=C.UTF-8 LC_ALL= TERM=dumb"
$T kill-session -t k3 >/dev/null 2>&1
n=$((50 * slow))
while [ $n -gt 0 ] && [ ! -f "$tmp/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ -f "$tmp/rc" ] && [ "$(cat "$tmp/rc")" = 1 ] && ok "TERM=dumb: exit 1" || bad "TERM=dumb: exit 1"
grep -q "cannot position the cursor" "$tmp/stderr" && ok "TERM=dumb: says why" ||
    bad "TERM=dumb: says why"

# --- --exit-at-end with the UI: the status JSON reaches the terminal after the UI is gone --------
start k4 "LANG=C.UTF-8 LC_ALL= TERM=screen-256color" \
    "--speed 0 --exit-at-end --replay data/replay/ethusdt_20240808.gz"
$T kill-session -t k5 >/dev/null 2>&1
n=$((100 * slow))
while [ $n -gt 0 ] && [ ! -f "$tmp/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ -f "$tmp/rc" ] && [ "$(cat "$tmp/rc")" = 0 ] && ok "--exit-at-end with the UI exits 0" ||
    bad "--exit-at-end with the UI exits 0"
$T capture-pane -p -J -t "$S" >"$tmp/screen" 2>/dev/null || : >"$tmp/screen"
grep -qF '"finished":true' "$tmp/screen" && grep -qF '"best_bid":"2682.50"' "$tmp/screen" &&
    ok "--exit-at-end with the UI prints the status on the restored terminal" ||
    bad "--exit-at-end with the UI prints the status on the restored terminal"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
