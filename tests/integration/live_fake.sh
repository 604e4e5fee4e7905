#!/bin/sh
# The fake exchange (tests/fake/) as the live tests meet it: loopback only, REST of all three
# venues with the real files behind it, fault control, TLS with a test CA made here (and refused
# without it), websocket formats (Binance raw vs combined, OKX subscribe + text ping/pong), and
# that it stops by itself. The C side (ws.c, http.c, decoders, books) is tests/unit/test_live.c.
. "$(dirname "$0")/../lib.sh"
PY=$KT_PY
FAKE=tests/fake/fake_exchange.py

get() { curl -s --max-time 10 "$@"; }

# loopback only
"$PY" "$FAKE" --host 0.0.0.0 --data "$SHARED" > /dev/null 2> "$T/host.err"
check "refuses a non-loopback bind" test $? -ne 0
check "says why" grep -q "loopback only" "$T/host.err"

fake_start plain --rate 200 --max-lines 4000 --preload binance-spot:BTCUSDT
B="http://127.0.0.1:$P"
check "spot ping" eq "$(get "$B/api/v3/ping")" "{}"
now=$(date +%s%3N)
st=$(get "$B/api/v3/time" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["serverTime"])')
check "spot server time is now" test $((st - now)) -lt 5000 -a $((now - st)) -lt 5000
get "$B/api/v3/exchangeInfo" > "$T/ei.json"
zcat "$SHARED/binance/exchangeinfo/spot-exchangeinfo-2021-10-12.json.gz" > "$T/ei.ref"
check "spot exchangeInfo is the real file" cmp -s "$T/ei.json" "$T/ei.ref"
get "$B/fapi/v1/exchangeInfo" > "$T/fei.json"
check "USD-M exchangeInfo is the real file" \
    cmp -s "$T/fei.json" "$SHARED/binance/nautilus-captures/http_futures_market_exchange_info.json"
get -D "$T/depth.h" "$B/api/v3/depth?symbol=BTCUSDT&limit=5" > "$T/depth.json"
check "depth: 5 bids" eq "$(jget "$T/depth.json" 'len(j["bids"])')" 5
check "depth: the capture's update ids" test "$(jget "$T/depth.json" 'j["lastUpdateId"]')" -ge 50093239218
check "depth: weight header" grep -qi "^x-mbx-used-weight-1m: [0-9]" "$T/depth.h"
check "depth: bid below ask" \
    eq "$(jget "$T/depth.json" 'float(j["bids"][0][0]) < float(j["asks"][0][0])')" True
get "$B/fapi/v1/depth?symbol=BTCUSDT&limit=5" > "$T/fdepth.json"
check "USD-M depth carries E and T" eq "$(jget "$T/fdepth.json" '"E" in j and "T" in j')" True
get "$B/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3" > "$T/kl.json"
check "klines: 3 rows of 12" eq "$(jget "$T/kl.json" '[len(r) for r in j]')" "[12, 12, 12]"
check "klines: the real first bar" eq "$(jget "$T/kl.json" 'j[0][0:2]')" "[1524880320000, '9094.18']"
get "$B/api/v5/market/books?instId=BTC-USDT&sz=3" > "$T/okb.json"
check "OKX books: code 0" eq "$(jget "$T/okb.json" 'j["code"]')" 0
check "OKX books: seqId" test "$(jget "$T/okb.json" 'j["data"][0]["seqId"]')" -gt 0
check "OKX books: 4-field levels" eq "$(jget "$T/okb.json" 'len(j["data"][0]["bids"][0])')" 4
get "$B/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=3" > "$T/okc.json"
check "OKX candles newest first" \
    eq "$(jget "$T/okc.json" 'int(j["data"][0][0]) > int(j["data"][1][0])')" True
get "$B/api/v5/public/instruments?instType=SWAP" > "$T/oki.json"
check "OKX instruments list the SWAP tapes" \
    eq "$(jget "$T/oki.json" 'sorted(d["instId"] for d in j["data"])')" "['BTC-USDT-SWAP', 'ETH-USDT-SWAP']"

# faults
get "$B/_fake/fault?type=http&status=429&secs=7&n=1" > /dev/null
get -D "$T/429.h" -o /dev/null "$B/api/v3/ping"
check "429 with Retry-After" grep -q "^HTTP/1.1 429" "$T/429.h"
check "Retry-After: 7" grep -qi "^retry-after: 7" "$T/429.h"
check "then 200 again" eq "$(get -o /dev/null -w '%{http_code}' "$B/api/v3/ping")" 200
get "$B/_fake/fault?type=http&status=418&secs=2&n=1&venue=okx" > /dev/null
check "a venue's fault spares the others" eq "$(get -o /dev/null -w '%{http_code}' "$B/api/v3/ping")" 200
check "418 on OKX" eq "$(get -o /dev/null -w '%{http_code}' "$B/api/v5/public/time")" 418
get "$B/_fake/fault?type=http&status=500&n=1" > /dev/null
check "500" eq "$(get -o /dev/null -w '%{http_code}' "$B/api/v3/time")" 500
get "$B/_fake/fault?type=slow&secs=1.5&n=1" > /dev/null
t=$(get -o /dev/null -w '%{time_total}' "$B/api/v3/ping")
check "slow answer (${t}s)" "$PY" -c "import sys; sys.exit(0 if $t >= 1.4 else 1)"
get "$B/_fake/fault?type=skew&ms=-4000" > /dev/null
now=$(date +%s%3N)
st=$(get "$B/api/v3/time" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["serverTime"])')
check "clock skew -4 s" test $((now - st)) -gt 3000 -a $((now - st)) -lt 6000
check "unknown fault refused" eq "$(get "$B/_fake/fault?type=nope" | "$PY" -c 'import json,sys; print("error" in json.load(sys.stdin))')" True

# websocket formats (a Python client on Debian's websockets)
cat > "$T/ws.py" <<'EOF'
import asyncio, json, sys
import websockets
port = sys.argv[1]
async def main():
    out = {}
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/v5/public") as ws:
        await ws.send("ping")
        out["pong"] = await asyncio.wait_for(ws.recv(), 5)
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}))
        out["sub"] = json.loads(await asyncio.wait_for(ws.recv(), 5))["event"]
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        out["okx"] = [m["arg"]["channel"], m["action"], m["data"][0]["prevSeqId"] < m["data"][0]["seqId"]]
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE-X"}]}))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if m.get("event"):
                out["bad"] = [m["event"], m["code"]]
                break
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/v5/business") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT"}]}))
        await asyncio.wait_for(ws.recv(), 5)
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        out["candle"] = [m["arg"]["channel"], len(m["data"][0]), m["data"][0][8] in ("0", "1")]
    async with websockets.connect(f"ws://127.0.0.1:{port}/stream?streams=btcusdt@kline_1m") as ws:
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        out["kline"] = [m["stream"], m["data"]["e"], m["data"]["k"]["i"]]
    async with websockets.connect(f"ws://127.0.0.1:{port}/stream?streams=btcusdt@depth@100ms") as ws:
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        out["combined"] = [m["stream"], m["data"]["e"]]
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/btcusdt@depth") as ws:
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        out["raw"] = [m.get("stream"), m["e"]]
    print(json.dumps(out))
asyncio.run(main())
EOF
"$PY" "$T/ws.py" "$P" > "$T/ws.json" 2> "$T/ws.err"
check "OKX text ping -> pong" eq "$(jget "$T/ws.json" 'j["pong"]')" pong
check "OKX subscribe acknowledged" eq "$(jget "$T/ws.json" 'j["sub"]')" subscribe
check "OKX books update with a seqId chain" eq "$(jget "$T/ws.json" 'j["okx"]')" "['books', 'update', True]"
check "OKX unknown instId -> error 60018" eq "$(jget "$T/ws.json" 'j["bad"]')" "['error', '60018']"
check "OKX candle1m on the business endpoint" eq "$(jget "$T/ws.json" 'j["candle"]')" "['candle1m', 9, True]"
check "Binance kline_1m stream" eq "$(jget "$T/ws.json" 'j["kline"]')" "['btcusdt@kline_1m', 'kline', '1m']"
check "Binance combined stream envelope" eq "$(jget "$T/ws.json" 'j["combined"]')" "['btcusdt@depth@100ms', 'depthUpdate']"
check "Binance raw stream payload" eq "$(jget "$T/ws.json" 'j["raw"]')" "[None, 'depthUpdate']"
get "$B/_fake/status" > "$T/status.json"
check "no task of the fake failed" eq "$(jget "$T/status.json" 'j["task_errors"]')" 0
check "frames were streamed" test "$(jget "$T/status.json" 'j["frames_sent"]')" -ge 5
get "$B/_fake/quit" > /dev/null
check "quit stops it" wait_for 10 sh -c "! kill -0 $FPID 2>/dev/null"

# TLS with a test CA made now
sh tests/fake/mkca.sh "$T/ca"
check "test CA made" test -s "$T/ca/ca.pem" -a -s "$T/ca/server.pem"
fake_start tls --cert "$T/ca/server.pem" --key "$T/ca/server.key" --lifetime 3
check "https with the test CA" eq "$(get --cacert "$T/ca/ca.pem" "https://127.0.0.1:$P/api/v3/ping")" "{}"
get -o /dev/null "https://127.0.0.1:$P/api/v3/ping"
check "https without it is refused (verification on)" test $? -eq 60
check "stops by itself at --lifetime" wait_for 10 sh -c "! kill -0 $FPID 2>/dev/null"
check "and says so" grep -q "lifetime over" "$T/tls.log"

done_tests
