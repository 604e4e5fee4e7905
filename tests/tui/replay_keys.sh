#!/bin/sh
# TUI tests of the replay controls: a bad replay file is named with its problem in the status
# bar's banner; `.` steps one bar while paused and `}` / `{` seek, checked against `kestrel ctl`.
# A private tmux server; prints "N passed, N failed". Needs tmux; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init rk
ctl() { "$BIN" ctl --socket "$tmp/s" "$@"; }
start() {
    S=$1
    tui_start "$S" 120x40 --db "$tmp/$1.db" --socket "$tmp/s" $2
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
