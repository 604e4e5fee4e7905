#!/bin/sh
# TUI tests of the replay controls: a bad replay file is named with its problem in the status
# bar's banner; `.` steps one bar while paused and `}` / `{` seek, checked against `kestrel ctl`.
# A private tmux server; prints "N passed, N failed". Needs tmux; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${KESTREL_BIN:-build/release/kestrel}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
command -v tmux >/dev/null 2>&1 || { echo "tmux missing"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || { echo "no binary $BIN"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d /tmp/kestrel-tui.XXXXXX)
T="tmux -L kestrel-rk$$ -f /dev/null"
cleanup() { $T kill-server >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
pass=0
fail=0
case $BIN in *asan*) slow=3 ;; *) slow=1 ;; esac
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; echo "---- screen:"; cat "$tmp/screen" 2>/dev/null; echo "----"; }
cap() { $T capture-pane -p -t "$S" >"$tmp/screen" 2>/dev/null || : >"$tmp/screen"; }
wait_for() {
    n=$(($2 * 10 * slow))
    while [ "$n" -gt 0 ]; do
        cap
        grep -qF -- "$1" "$tmp/screen" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
expect() { if wait_for "$1" "${3:-5}"; then ok "$2"; else bad "$2 (wanted '$1')"; fi; }
keys() { $T send-keys -t "$S" "$@"; }
st() { "$BIN" ctl --socket "$tmp/s" status > "$tmp/st.json" 2>/dev/null &&
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$tmp/st.json" "$1"; }
poll() { # seconds expr value
    n=$(($1 * 10 * slow))
    while [ "$n" -gt 0 ]; do
        [ "$(st "$2")" = "$3" ] && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
start() {
    S=$1
    $T new-session -d -s "$S" -x 120 -y 40 \
        "env LANG=C.UTF-8 LC_ALL= TERM=screen-256color $BIN --db $tmp/$1.db --socket $tmp/s $2 \
         2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
}

# 1. an empty replay file: the banner names it and the problem
: > "$tmp/empty.txt"
start e "--replay $tmp/empty.txt"
expect "empty.txt: empty file" "the status bar's banner names the empty file and its problem" 10
$T kill-session -t e >/dev/null 2>&1 || :

# 2. keys: pause, `.` steps one 1m bar, `}` seeks a minute forward, `{` back
rm -f "$tmp/s"
start k "--speed 0.05 --replay data/replay/btcusdt_20240808.gz"
expect "REPLAY" "replay screen up" 10
n=$((50 * slow)); while [ $n -gt 0 ] && [ ! -S "$tmp/s" ]; do sleep 0.1; n=$((n - 1)); done
keys Space
poll 5 'j["paused"]' True && ok "space pauses" || bad "space pauses"
"$BIN" ctl --socket "$tmp/s" timeframe 1m > /dev/null
poll 5 'len(j["symbols"])' 1 || :
c0=$(st 'j["symbols"][0]["candles"]["1m"]')
keys .
poll 10 'j["symbols"][0]["candles"]["1m"]' $((c0 + 1)) && ok ". steps one 1m bar while paused" ||
    bad ". steps one 1m bar while paused"
poll 5 'j["stepping"]' False && ok ". : the step ends paused" || bad ". : the step ends paused"
t0=$(st 'j["data_time_ms"]')
keys '}'
poll 10 "(not j['seeking']) and j['data_time_ms'] >= $t0 + 59000" True || :
t1=$(st 'j["data_time_ms"]')
[ $((t1 - t0)) -ge 59000 ] && [ $((t1 - t0)) -le 61000 ] && ok "} seeks one minute forward" ||
    bad "} seeks one minute forward ($t0 -> $t1)"
keys '{'
poll 10 "(not j['seeking']) and j['data_time_ms'] < $t1" True || :
t2=$(st 'j["data_time_ms"]')
[ $((t2 - t0)) -ge -1000 ] && [ $((t2 - t0)) -le 1000 ] && ok "{ seeks one minute back (re-run)" ||
    bad "{ seeks one minute back ($t1 -> $t2, wanted ~$t0)"
cap
grep -qF "PAUSED" "$tmp/screen" && ok "still paused after the seeks" || bad "still paused after the seeks"
keys q y
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
