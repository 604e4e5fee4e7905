#!/bin/sh
# TUI test of live feed health in the status bar, against the fake exchange (tests/fake/): a
# private tmux server runs `kestrel --live` with a failover watch entry
# ("okx:BTC-USDT@binance-spot:BTCUSDT"). Healthy: "conns 5/5 open" and no banner. The fake
# stalls OKX for good (sticky): "STALLED okx books" in the error role (red), then after
# health.failover_after_s "FAILOVER okx:BTC-USDT -> binance-spot:BTCUSDT" and the book and
# trades panes of the focused primary show the backup ("Book BTCUSDT"); a REST 429 +
# Retry-After shows "REST PAUSED binance-usdm Ns"; un-stalled, the banner goes and the panes are
# back on "Book BTC-USDT". Prints "N passed, N failed". Needs tmux, python3-websockets.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init lb
S=lb; TUI_S=$S
top() { head -n 1 "$tmp/screen"; }
wait_top() { # text seconds: the status bar shows text
    n=$(($2 * 10 * slow))
    while [ "$n" -gt 0 ]; do
        cap; top | grep -qF -- "$1" && return 0
        sleep 0.1; n=$((n - 1))
    done
    return 1
}
wait_gone() { # text seconds: the status bar no longer shows text
    n=$(($2 * 10 * slow))
    while [ "$n" -gt 0 ]; do
        cap; top | grep -qF -- "$1" || return 0
        sleep 0.1; n=$((n - 1))
    done
    return 1
}
expect_top() { if wait_top "$1" "${3:-10}"; then ok "$2"; else bad "$2 (wanted '$1')"; fi; }

fake_start fake --lifetime 240 --rate 200 --max-lines 60000 --shift-times \
    --preload binance-spot:BTCUSDT --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT
[ -n "$P" ] || { echo "0 passed, 1 failed"; exit 1; }
fget() { curl -s --max-time 10 "http://127.0.0.1:$P$1" > /dev/null; }
cat > "$tmp/live.cfg" <<EOF
source = "live";
watch = ["okx:BTC-USDT@binance-spot:BTCUSDT", "binance-usdm:ETHUSDT"];
venues = {
  binance-spot = { rest_url = "http://127.0.0.1:$P"; ws_url = "ws://127.0.0.1:$P"; };
  binance-usdm = { rest_url = "http://127.0.0.1:$P"; ws_public_url = "ws://127.0.0.1:$P";
                   ws_market_url = "ws://127.0.0.1:$P"; };
  okx = { rest_url = "http://127.0.0.1:$P"; ws_url = "ws://127.0.0.1:$P"; };
};
health = { stall_factor = 20; failover_after_s = 2; failback_after_s = 3; };
alerts = { bell = false; };
EOF
$T new-session -d -s keep "sleep 600"
$T new-session -d -s "$S" -x 200 -y 40 \
    "env LANG=C.UTF-8 LC_ALL= TERM=screen-256color $BIN --config $tmp/live.cfg --db $tmp/k.db \
     --socket $tmp/k.sock --log $tmp/k.log 2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
ctl() { "$BIN" ctl --socket "$tmp/k.sock" "$@" > /dev/null 2>&1; }

expect_top "conns 5/5 open" "healthy: every connection open in the status bar" 40
n=300
while ! ctl focus okx:BTC-USDT && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
if wait_screen "Book BTC-USDT" 20; then ok "the book pane shows the focused primary"
else bad "the book pane shows the focused primary"; fi
if wait_top "BTC-USDT synced" 30 && ! top | grep -Eq "FAILOVER|STALLED|DOWN|RESYNC |REST PAUSED"
then ok "healthy: no health banner"; else bad "healthy: no health banner"; fi

# the primary stalls for good: STALLED (red), then FAILOVER and the panes on the backup
fget "/_fake/fault?type=stall&venue=okx&secs=120&sticky=1"
expect_top "STALLED okx books" "stall: the banner names the stalled connection" 15
cap -e
a=$(attrs_at "STALLED okx books")
if printf ' %s ' "$a" | grep -Eq ' (38;5;196|31|91) '; then ok "stall: drawn in red (error role)"
else echo "   attributes: $a"; bad "stall: drawn in red (error role)"; fi
expect_top "FAILOVER okx:BTC-USDT -> binance-spot:BTCUSDT" "failover: the banner shows the switch" 15
if wait_screen "Book BTCUSDT" 10; then ok "failover: the book pane shows the backup"
else bad "failover: the book pane shows the backup"; fi
if grep -qF "Trades BTCUSDT" "$tmp/screen"; then ok "failover: the trades pane too"
else bad "failover: the trades pane too"; fi
expect_top "conns 4/5 open" "failover: the connection count says one is not open" 10

# REST 429 + Retry-After: the pause and its seconds left
fget "/_fake/fault?type=http&status=429&n=1&secs=8&venue=binance-usdm"
fget "/_fake/fault?type=gap&venue=binance-usdm&n=1"
expect_top "REST PAUSED binance-usdm " "429: the REST pause is shown" 20
if top | grep -Eq "REST PAUSED binance-usdm [1-9]s"; then ok "429: with the seconds left"
else bad "429: with the seconds left"; fi

# un-stalled: back on the primary, the banner goes
fget "/_fake/fault?type=unstall"
if wait_gone "FAILOVER" 60; then ok "failback: the FAILOVER banner goes"
else bad "failback: the FAILOVER banner goes"; fi
if wait_screen "Book BTC-USDT" 10; then ok "failback: the book pane shows the primary again"
else bad "failback: the book pane shows the primary again"; fi
if wait_gone "REST PAUSED" 20 && wait_gone "STALLED" 20; then ok "healthy again: no banner"
else bad "healthy again: no banner"; fi

ctl quit
n=$((200 * slow))
while [ ! -s "$tmp/rc" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] && ok "quits with exit 0" || bad "quits with exit 0"
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
