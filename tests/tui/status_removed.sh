#!/bin/sh
# The status bar's book states follow the watchlist: on the real program replaying the bundled
# BTC and ETH captures in a private tmux server, both books are listed in the status bar; after
# `ctl symbols remove binance-spot:ETHUSDT` (the same path as `d`) ETHUSDT's book state is gone
# from it (its data still flows, unseen) while BTCUSDT's stays; `ctl symbols add` brings it back.
# Prints "N passed, N failed". Needs tmux and python3; $KESTREL_BIN, $KESTREL_SHARED_DATA.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${KESTREL_BIN:-build/release/kestrel}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
SD=${KESTREL_SHARED_DATA:-$(cd .. && pwd)/shared/data}
S=$SD/binance/streams/spot
command -v tmux >/dev/null 2>&1 || { echo "tmux missing"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || { echo "no binary $BIN"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d /tmp/kestrel-stremoved.XXXXXX)
T="tmux -L kestrel-stremoved$$ -f /dev/null"
cleanup() { $T kill-server >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
pass=0
fail=0
case $BIN in *asan*) slow=3 ;; *) slow=1 ;; esac
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; echo "---- status bar:"; cat "$tmp/bar" 2>/dev/null; echo "----"; }
# the status bar: the screen's first line
bar() { $T capture-pane -p -t k -S 0 -E 0 >"$tmp/bar" 2>/dev/null || : >"$tmp/bar"; }
# poll (bounded) until the status bar matches (grep -E) or, with "!", does not
bar_until() { # seconds [!] regex
    n=$(($1 * 10 * slow)); shift
    neg=false
    [ "$1" = "!" ] && { neg=true; shift; }
    while [ "$n" -gt 0 ]; do
        bar
        if grep -qE -- "$1" "$tmp/bar"; then $neg || return 0; else $neg && return 0; fi
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
ctl() { "$BIN" ctl --socket "$tmp/s" --timeout 5 "$@"; }

$T new-session -d -s k -x 160 -y 40 \
    "$BIN --db $tmp/k.db --socket $tmp/s --speed 1 --replay $S/btcusdt_20240808.gz,$S/ethusdt_20240808.gz 2>>$tmp/err"
if bar_until 30 "BTCUSDT[^ ]* (synced|syncing|RESYNCING|empty).*ETHUSDT[^ ]* (synced|syncing|RESYNCING|empty)"; then
    ok "both books' states are in the status bar"
else bad "both book states"; fi
ctl symbols remove binance-spot:ETHUSDT >"$tmp/rm.json" 2>&1
grep -q '"removed":"binance-spot:ETHUSDT"' "$tmp/rm.json" && ok "ctl symbols remove ETHUSDT" ||
    { bad "remove"; cat "$tmp/rm.json"; }
if bar_until 5 ! "ETHUSDT"; then ok "the removed symbol's book state leaves the status bar"
else bad "ETHUSDT still in the status bar"; fi
if bar_until 2 "BTCUSDT[^ ]* (synced|syncing|RESYNCING|empty)"; then ok "BTCUSDT's stays"
else bad "BTCUSDT's book state"; fi
ctl symbols add binance-spot:ETHUSDT >/dev/null 2>&1
if bar_until 5 "ETHUSDT[^ ]* (synced|syncing|RESYNCING|empty)"; then ok "added back: listed again"
else bad "re-added"; fi
ctl quit >/dev/null 2>&1
n=$((100 * slow))
while [ "$n" -gt 0 ] && $T has-session -t k 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
$T has-session -t k 2>/dev/null && bad "quit" || ok "quits"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
