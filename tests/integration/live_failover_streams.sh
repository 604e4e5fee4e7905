#!/bin/sh
# Failover looks at every connection that feeds a symbol, not only its book's (docs/LIVE.md
# "Health and failover"), against the fake exchange (tests/fake/, loopback, the real captures
# with their times moved to now), `kestrel --headless`, read through the control socket:
#   - USD-M: the /market connection (trades, klines, ticker, mark price) stays stalled (the
#     fake's sticky stall on that path only) while the /public book streams on and stays live:
#     the primary is unhealthy, the panes fail over to the backup, and back once /market
#     delivers again;
#   - OKX: the same with the candles connection on /ws/v5/business while /ws/v5/public (books,
#     trades) streams on.
# Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
FAKE=tests/fake/fake_exchange.py
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

"$PY" "$FAKE" --port-file "$T/fake.port" --data "$SHARED" --lifetime 400 --parent $$ \
    --rate 150 --max-lines 60000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-spot:ETHUSDT --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT \
    2> "$T/fake.log" &
PIDS="$PIDS $!"
wait_for 60 test -s "$T/fake.port" || { echo "   fake did not start:"; cat "$T/fake.log"; }
P=$(cat "$T/fake.port" 2>/dev/null)
B="http://127.0.0.1:$P"
W="ws://127.0.0.1:$P"
fget() { curl -s --max-time 10 "$B$1"; }
cat > "$T/live.cfg" <<EOF2
source = "live";
watch = ["binance-usdm:ETHUSDT@binance-spot:ETHUSDT", "okx:BTC-USDT@binance-spot:BTCUSDT"];
venues = {
  binance-spot = { rest_url = "$B"; ws_url = "$W"; };
  binance-usdm = { rest_url = "$B"; ws_public_url = "$W"; ws_market_url = "$W"; };
  okx = { rest_url = "$B"; ws_url = "$W"; };
};
health = { stall_factor = 20; failover_after_s = 2; failback_after_s = 3; alert_interval_s = 60; };
EOF2
"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
    > "$T/k.out" 2> "$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
cq() { ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]; }
CONN() { echo "[c for c in j[\"connections\"] if c[\"label\"] == \"$1\"][0]"; }
BOOK() { echo "[b for b in j[\"books\"] if b[\"venue\"] == \"$1\" and b[\"symbol\"] == \"$2\"][0]"; }
check "every book live, both pairs on their primaries" wait_for 60 cq \
    'len(j["books"]) == 4 and all(b["state"] == "live" for b in j["books"]) and [f["active"] for f in j["failover"]] == ["primary", "primary"] and all(f["primary_ok"] for f in j["failover"])'

# 1. USD-M /market stalls, /public streams on
ctl connections > "$T/c0.json"
F0=$(jget "$T/c0.json" 'j["failover"][0]["failovers"]')
B0=$(jget "$T/c0.json" 'j["failover"][0]["failbacks"]')
MK=$(CONN "binance-usdm market")
PB=$(CONN "binance-usdm public")
PB0=$(jget "$T/c0.json" "$PB[\"data_stalls\"]")
fget "/_fake/fault?type=stall&venue=binance-usdm&path=/market&secs=200&sticky=1" > /dev/null
check "market stall: the /market connection stalls (data or transport)" \
    wait_for 120 cq "$MK[\"stalls\"] >= 1"
check "market stall: the pair fails over to the backup" \
    wait_for 20 cq "j['failover'][0]['active'] == 'backup' and j['failover'][0]['failovers'] == $F0 + 1"
check "market stall: ... while the USD-M book is live" \
    wait_for 20 cq "$(BOOK binance-usdm ETHUSDT)[\"state\"] == \"live\" and j['failover'][0]['active'] == 'backup'"
echo "   /public data stalls meanwhile: $(jget "$T/c.json" "$PB[\"data_stalls\"]") (before: $PB0)"
check "market stall: the banner says FAILOVER" \
    cq '"FAILOVER binance-usdm:ETHUSDT -> binance-spot:ETHUSDT" in j["banner"]'
check "market stall: the other pair stays on its primary" cq 'j["failover"][1]["active"] == "primary"'
fget "/_fake/fault?type=unstall" > /dev/null
check "market unstalled: back on the primary" \
    wait_for 60 cq "j['failover'][0]['active'] == 'primary' and j['failover'][0]['failbacks'] == $B0 + 1"

# 2. OKX candles (/ws/v5/business) stall, /ws/v5/public streams on
ctl connections > "$T/c1.json"
F1=$(jget "$T/c1.json" 'j["failover"][1]["failovers"]')
CD=$(CONN "okx candles")
OB=$(CONN "okx books")
OB0=$(jget "$T/c1.json" "$OB[\"data_stalls\"]")
fget "/_fake/fault?type=stall&venue=okx&path=/ws/v5/business&secs=200&sticky=1" > /dev/null
check "candles stall: the OKX candles connection stalls (data or transport)" \
    wait_for 120 cq "$CD[\"stalls\"] >= 1"
check "candles stall: the pair fails over to the backup" \
    wait_for 20 cq "j['failover'][1]['active'] == 'backup' and j['failover'][1]['failovers'] == $F1 + 1"
check "candles stall: ... while the OKX book is live" \
    wait_for 20 cq "$(BOOK okx BTC-USDT)[\"state\"] == \"live\" and j['failover'][1]['active'] == 'backup'"
echo "   okx books data stalls meanwhile: $(jget "$T/c.json" "$OB[\"data_stalls\"]") (before: $OB0)"
fget "/_fake/fault?type=unstall" > /dev/null
check "candles unstalled: back on the primary" \
    wait_for 60 cq "j['failover'][1]['active'] == 'primary'"

ctl quit > /dev/null
check "quits cleanly" wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID"
check "exit status 0" test $? -eq 0
done_tests
