#!/bin/sh
# The known facts of the real captures, end to end through the real binary (--exit-at-end JSON).
. "$(dirname "$0")/../lib.sh"
S="$SHARED/binance/streams"
run() { out=$1; shift; "$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/$out.db" \
    --socket "$T/$out.sock" --log "$T/$out.log" "$@" > "$T/$out.json" 2> "$T/$out.err"; }

run spot --replay data/replay/btcusdt_20240808.gz,data/replay/btcusdt_20240809.gz,data/replay/ethusdt_20240808.gz,data/replay/ethusdt_20240809.gz
check "spot replay exits 0" test $? -eq 0
check "status names the source and broker" eq "$(jget $T/spot.json 'j["source"]+"/"+j["broker"]')" "replay/paper"
check "BTCUSDT diffs applied 6493" eq "$(sym $T/spot.json BTCUSDT diffs_applied)" 6493
check "BTCUSDT 0 gaps" eq "$(sym $T/spot.json BTCUSDT gaps)" 0
check "BTCUSDT 0 crossed" eq "$(sym $T/spot.json BTCUSDT crossed)" 0
check "BTCUSDT book live" eq "$(sym $T/spot.json BTCUSDT book_state)" live
check "BTCUSDT best bid 61602.01" eq "$(sym $T/spot.json BTCUSDT best_bid)" 61602.01
check "BTCUSDT best ask 61602.02" eq "$(sym $T/spot.json BTCUSDT best_ask)" 61602.02
check "ETHUSDT best bid 2677.60" eq "$(sym $T/spot.json ETHUSDT best_bid)" 2677.60
check "ETHUSDT best ask 2677.61" eq "$(sym $T/spot.json ETHUSDT best_ask)" 2677.61
check "ETHUSDT 0 gaps" eq "$(sym $T/spot.json ETHUSDT gaps)" 0
check "no malformed messages in real data" eq "$(jget $T/spot.json 'j["malformed"]')" 0
check "every line became a message" eq "$(jget $T/spot.json 'j["messages"]')" 179318
check "BTCUSDT trades counted" eq "$(sym $T/spot.json BTCUSDT trades)" 19904
check "BTCUSDT 1m candles closed" test "$(sym $T/spot.json BTCUSDT candles.1m)" -ge 10
check "BTCUSDT 1s candles closed" test "$(sym $T/spot.json BTCUSDT candles.1s)" -ge 600
check "status schema 2" eq "$(jget $T/spot.json 'j["schema"]')" 2
check "BTCUSDT last update id is an exact string" eq "$(jget $T/spot.json 'type([s for s in j["symbols"] if s["symbol"]=="BTCUSDT"][0]["last_update_id"]).__name__')" str
check "data clock is the recorded time" eq "$(jget $T/spot.json 'j["data_time"][:16]')" 2024-08-09T00:05

run usdm --replay "$S/usdm/btcusdt_20240808.gz,$S/usdm/ethusdt_20240808.gz"
check "usdm replay exits 0" test $? -eq 0
check "USD-M BTCUSDT venue detected" eq "$(sym $T/usdm.json BTCUSDT venue)" binance-usdm
check "USD-M BTCUSDT diffs applied 6547" eq "$(sym $T/usdm.json BTCUSDT diffs_applied)" 6547
check "USD-M ETHUSDT diffs applied 6581" eq "$(sym $T/usdm.json ETHUSDT diffs_applied)" 6581
check "USD-M BTCUSDT 0 gaps" eq "$(sym $T/usdm.json BTCUSDT gaps)" 0
check "USD-M ETHUSDT 0 gaps" eq "$(sym $T/usdm.json ETHUSDT gaps)" 0

# spot and USD-M of the same symbol side by side stay apart
run both --replay "data/replay/btcusdt_20240808.gz,$S/usdm/btcusdt_20240808.gz"
check "spot+usdm BTCUSDT are two symbols" eq "$(jget $T/both.json 'len(j["symbols"])')" 2
check "spot half keeps its own book" eq "$(sym $T/both.json BTCUSDT book_state binance-spot)" live

done_tests
