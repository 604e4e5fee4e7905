#!/bin/sh
# Live klines, 24 h tickers, mark prices and `kestrel download` against the fake exchange
# (tests/fake/, loopback; real octobot bars and recorded messages, docs/LIVE.md "Kline history"):
#   - start-up backfill of every timeframe over REST (paginated), 24 h ticker and USD-M mark price
#     in the status, the exchange's final 1m bars replacing the trade-built ones (counted), a
#     dropped connection's gap backfilled, every stored 1m bar equal to the exchange's;
#   - download: paginated, exact CSV (compared with the source file), SQLite candles, resumed
#     after a kill without duplicates, 429 + Retry-After waited out, OKX through
#     history-candles, the CSV read by `kestrel ta` and `kestrel backtest --data`.
# Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
PY=$KT_PY
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

fake_start fake --lifetime 200 \
    --rate 250 --max-lines 24000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT-SWAP
cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT", "binance-usdm:ETHUSDT", "okx:BTC-USDT-SWAP"];
venues = {
  binance-spot = { rest_url = "$B"; ws_url = "$W"; };
  binance-usdm = { rest_url = "$B"; ws_public_url = "$W"; ws_market_url = "$W"; };
  okx = { rest_url = "$B"; ws_url = "$W"; };
};
EOF
# the first two USD-M REST answers are 429 with Retry-After: 1 (the backfill waits them out)
fget "/_fake/fault?type=http&status=429&n=2&secs=1&venue=binance-usdm" > /dev/null
"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
    > "$T/k.out" 2> "$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
cq() { ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]; }
sq() { ctl status > "$T/s.json" 2> /dev/null && [ "$(jget "$T/s.json" "$1")" = True ]; }
SYM() { echo "[s for s in j[\"symbols\"] if s[\"venue\"] == \"$1\"][0]"; }
SPOT=$(SYM binance-spot); USDM=$(SYM binance-usdm); OKX=$(SYM okx)

check "backfill: 3 symbols x 6 timeframes fetched, none failed" \
    wait_for 60 cq 'j["klines"]["jobs_done"] == 18 and j["klines"]["jobs_failed"] == 0'
check "backfill: the 429s were answered and waited out" \
    test "$(jget "$T/c.json" 'j["klines"]["bars_inserted"] > 5000')" = True
check "backfill: every timeframe of every symbol holds history (1m >= 400, 5m..4h = 300)" \
    sq 'all(s["bars_held"]["1m"] >= 400 and all(s["bars_held"][t] == 300 for t in ("5m","15m","1h","4h")) for s in j["symbols"])'
check "backfill: counted per symbol" sq 'all(s["klines"]["backfilled"] >= 1500 for s in j["symbols"])'
check "24h ticker: the recorded spot ticker in the status (open, last)" \
    wait_for 20 sq "$SPOT[\"day\"] is not None and $SPOT[\"day\"][\"open\"] == \"1764.61\" and $SPOT[\"day\"][\"last\"] == \"1792.84\""
check "24h ticker: the watchlist's change is against its open" \
    sq "$SPOT[\"change_basis\"] == \"24h\" and $SPOT[\"change_ref\"].startswith(\"1764.61\")"
check "24h ticker: USD-M and OKX tickers too" \
    wait_for 20 sq "$USDM[\"day\"][\"open\"] == \"28880.20\" and $OKX[\"day\"] is not None and $OKX[\"day\"][\"open\"].startswith(\"31588.3\")"
check "mark price: USD-M mark, index, funding rate and next funding time" \
    sq "$USDM[\"mark\"][\"mark\"] == \"58940.14924532\" and $USDM[\"mark\"][\"index\"] == \"58857.26693664\" and $USDM[\"mark\"][\"funding_rate\"] == \"0.00058455\" and $USDM[\"mark\"][\"next_funding_ms\"] == 1617321600000"
check "mark price: none on spot" sq "$SPOT[\"mark\"] is None"
check "five connections (OKX candles on /ws/v5/business)" \
    cq 'len(j["connections"]) == 5 and [c["channel"] for c in j["connections"] if c["venue"] == "okx"] == ["books", "candles"]'
check "final klines arrive on every venue" \
    wait_for 90 sq 'all(s["klines"]["final"] >= 1 for s in j["symbols"])'
check "the exchange's bars replaced trade-built ones that differed (counted)" \
    sq 'all(s["klines"]["diffs"] >= 1 for s in j["symbols"])'
check "the books stay live meanwhile" cq 'all(b["state"] == "live" for b in j["books"])'
check "final klines counted per streamed timeframe (1m .. 1d; 1m on every venue)" \
    cq 'all(sorted(b["klines_final_tf"]) == sorted(["1m","5m","15m","1h","4h","1d"]) and b["klines_final"] == sum(b["klines_final_tf"].values()) and b["klines_final_tf"]["1m"] >= 1 for b in j["books"])'

# instruments: exchangeInfo (spot, USD-M field names) and OKX instruments into the trading core
BK() { echo "[b for b in j[\"books\"] if b[\"venue\"] == \"$1\"][0][\"instrument\"]"; }
check "instruments: fetched for the 3 watched symbols" \
    wait_for 20 cq 'j["instruments"]["fetched"] == 3 and j["instruments"]["failed"] == 0'
check "instruments: the REQUEST_WEIGHT limits of both exchangeInfo documents" \
    cq 'j["instruments"]["weight_limit"] == {"binance-spot": 1200, "binance-usdm": 6000}'
check "instruments: spot BTCUSDT filters (PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL)" \
    cq "$(BK binance-spot) == {'tick': '0.01', 'step': '0.00001', 'min_qty': '0.00001', 'min_notional': '10', 'trading': True, 'futures': False}"
check "instruments: USD-M ETHUSDT filters (MIN_NOTIONAL notional, a contract)" \
    cq "$(BK binance-usdm)['tick'] == '0.01' and $(BK binance-usdm)['step'] == '0.001' and $(BK binance-usdm)['min_notional'] == '10' and $(BK binance-usdm)['futures']"
check "instruments: OKX tickSz / lotSz / minSz" \
    cq "$(BK okx)['tick'] == '0.1' and $(BK okx)['step'] == '0.001' and $(BK okx)['futures']"
check "instruments: the market's decimals follow the tick and step sizes" \
    sq "$SPOT['px_decimals'] == 2 and $SPOT['qty_decimals'] == 5 and $OKX['px_decimals'] == 1"

# a dropped connection: its symbols' bars since the drop are fetched again
fget "/_fake/fault?type=drop&venue=binance-spot" > /dev/null
check "drop: the gap is backfilled over REST (6 timeframes)" \
    wait_for 30 cq 'j["klines"]["gap_jobs"] >= 6 and j["klines"]["jobs_done"] >= 24 and j["klines"]["jobs_failed"] == 0'
ctl quit > /dev/null
check "quits cleanly" wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID"
check "exit status 0" test $? -eq 0
check "no errors logged" sh -c "! grep -q ' ERROR ' '$T/k.log'"
same_bars() { # venue symbol: every stored 1m bar equals the exchange's bar of its minute
    "$PY" - "$T/k.db" "$B" "$1" "$2" <<'EOF'
import json, sqlite3, sys, urllib.request
from decimal import Decimal
db, base, venue, sym = sys.argv[1:5]
rows = sqlite3.connect(db).execute(
    "SELECT open_ms, o, h, l, c, volume FROM candles WHERE venue = ? AND symbol = ? AND tf = '1m'"
    " ORDER BY open_ms", (venue, sym)).fetchall()
if len(rows) < 400:
    sys.exit(f"   only {len(rows)} bars stored")
if venue == "okx":
    url = f"{base}/api/v5/market/candles?instId={sym}&bar=1m&limit=300&after={rows[-1][0] + 1}&before={rows[0][0] - 1}"
    data = json.load(urllib.request.urlopen(url))["data"]
    url2 = f"{base}/api/v5/market/candles?instId={sym}&bar=1m&limit=300&after={rows[-1][0] - 299 * 60000}&before={rows[0][0] - 1}"
    data += json.load(urllib.request.urlopen(url2))["data"]
    ex = {int(r[0]): r[1:6] for r in data}
else:
    path = "/api/v3/klines" if venue == "binance-spot" else "/fapi/v1/klines"
    ex = {}
    for st in (rows[0][0], rows[0][0] + 1000 * 60000):
        url = f"{base}{path}?symbol={sym}&interval=1m&startTime={st}&endTime={rows[-1][0]}&limit=1000"
        ex.update({r[0]: r[1:6] for r in json.load(urllib.request.urlopen(url))})
k = lambda x: int(Decimal(x) * 100000000)
bad = [r[0] for r in rows if r[0] not in ex or tuple(r[1:]) != tuple(k(x) for x in ex[r[0]])]
# the last bars may have closed on the clock after the tape ended: no final kline came for them
if len(bad) > 3 or any(b < rows[-4][0] for b in bad):
    sys.exit(f"   {len(bad)} of {len(rows)} stored bars differ from the exchange's: {bad[:5]}")
EOF
}
check "stored 1m bars equal the exchange's (binance-spot)" same_bars binance-spot BTCUSDT
check "stored 1m bars equal the exchange's (binance-usdm)" same_bars binance-usdm ETHUSDT
# a restart without network: every filter from the store's instrument cache
sed "s|$B|http://127.0.0.1:1|g; s|$W|ws://127.0.0.1:1|g" "$T/live.cfg" > "$T/off.cfg"
ctl() { "$K" ctl --socket "$T/o.sock" "$@"; }
"$K" --headless --config "$T/off.cfg" --db "$T/k.db" --socket "$T/o.sock" --log "$T/o.log" \
    > /dev/null 2>&1 &
OK=$!
PIDS="$PIDS $OK"
check "offline restart: the 3 instruments come from the cache" \
    wait_for 20 cq 'j["instruments"]["cached"] == 3 and j["instruments"]["fetched"] == 0'
check "offline restart: OKX's filters known without network" \
    cq "$(BK okx)['tick'] == '0.1' and $(BK okx)['min_qty'] == '0.00001'"
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $OK 2>/dev/null"

# ---- kestrel download (a fake with the recordings' own times) --------------------------------
fake_run dl --lifetime 150
DP=$FP
DB="http://127.0.0.1:$DP"
dfget() { curl -s --max-time 10 "$DB$1"; }
printf 'venues = { binance-spot = { rest_url = "%s"; }; binance-usdm = { rest_url = "%s"; }; okx = { rest_url = "%s"; }; };\n' \
    "$DB" "$DB" "$DB" > "$T/dl.cfg"
SRC="$SHARED/klines/octobot/binance_BTCUSDT_1m_1524880320.csv"
same_csv() { # our CSV, the source rows in [from, to): same bars, exact
    "$PY" - "$1" "$SRC" "$2" "$3" <<'EOF'
import sys
from decimal import Decimal
out, src, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rd = lambda p: [l.rstrip("\n").split(",") for l in open(p)]
o, s = rd(out), rd(src)
if o[0] != ["open_time_ms", "open", "high", "low", "close", "volume"]:
    sys.exit(f"   header {o[0]}")
want = [[int(r[0])] + [Decimal(x) for x in r[1:]] for r in s[1:] if lo <= int(r[0]) < hi]
got = [[int(r[0])] + [Decimal(x) for x in r[1:]] for r in o[1:]]
if got != want:
    sys.exit(f"   {len(got)} rows, expected {len(want)}")
EOF
}
FROM=2018-04-28T02:00; TO=2018-04-28T09:00; F_MS=1524880800000; T_MS=1524906000000
dl() { "$K" download --config "$T/dl.cfg" --db "$T/dl.db" --venue binance-spot --symbol BTCUSDT \
        --interval 1m --from $FROM --to $TO "$@"; }
dl --out "$T/a.csv" --page 50 > "$T/dl1.out" 2> "$T/dl1.err"
check "download: exit 0" test $? -eq 0
check "download: 420 bars in 9 pages of 50" grep -q "420 bars in 9 requests" "$T/dl1.out"
check "download: the CSV is the source's bars, exact, in its format" same_csv "$T/a.csv" $F_MS $T_MS
check "download: no progress bar when stderr is not a terminal" test ! -s "$T/dl1.err"
check "download: the candles are in SQLite" test "$("$PY" -c "import sqlite3; print(sqlite3.connect('$T/dl.db').execute(\"select count(*) from candles where venue='binance-spot' and symbol='BTCUSDT' and tf='1m' and open_ms >= $F_MS and open_ms < $T_MS\").fetchone()[0])")" = 420
"$K" ta --data "$T/a.csv" > "$T/ta.out" 2> "$T/ta.err"
check "download: kestrel ta reads the CSV" test $? -eq 0 -a "$(wc -l < "$T/ta.out")" -ge 420
"$K" backtest --data "$T/a.csv" --venue binance-spot --symbol BTCUSDT --strategy rsi --no-baselines > "$T/bt.out" 2> "$T/bt.err"
check "download: kestrel backtest --data reads the CSV" test $? -eq 0
# resumable: killed mid-way (every REST answer slowed to 0.4 s), then run again
dfget "/_fake/fault?type=slow&n=14&secs=0.4" > /dev/null
"$K" download --config "$T/dl.cfg" --db "$T/dl2.db" --venue binance-spot --symbol BTCUSDT \
    --interval 1m --from $FROM --to $TO --out "$T/b.csv" --page 30 > /dev/null 2>&1 &
DPID=$!
PIDS="$PIDS $DPID"
check "resume: the first pages arrive" \
    wait_for 20 sh -c "[ -f '$T/b.csv' ] && [ \$(wc -l < '$T/b.csv') -ge 61 ]"
kill -9 $DPID 2>/dev/null
wait $DPID 2>/dev/null
N1=$(wc -l < "$T/b.csv")
check "resume: killed before the end" test "$N1" -lt 421
dl --out "$T/b.csv" --page 30 --db "$T/dl2.db" > "$T/dl3.out" 2> "$T/dl3.err"
check "resume: the rerun exits 0" test $? -eq 0
check "resume: it says where it resumed" grep -q "resuming at" "$T/dl3.err"
check "resume: the CSV is complete and without duplicates" same_csv "$T/b.csv" $F_MS $T_MS
dl --out "$T/b.csv" --page 30 --db "$T/dl2.db" > "$T/dl4.out" 2>&1
check "resume: a third run fetches nothing new" grep -q " 0 bars\|already complete" "$T/dl4.out"
check "resume: still no duplicates" same_csv "$T/b.csv" $F_MS $T_MS
# a 429 with Retry-After in the middle: waited out, the result is the same
dfget "/_fake/fault?type=http&status=429&n=1&secs=1&venue=binance-spot" > /dev/null
dl --out "$T/c.csv" --db "$T/dl3.db" --page 100 > "$T/dl5.out" 2>&1
check "429: the download waits and completes" same_csv "$T/c.csv" $F_MS $T_MS
check "429: counted as a wait" grep -q "([1-9][0-9]* waits" "$T/dl5.out"
# on a terminal (script(1) gives it a pty): a progress bar with an ETA on stderr
if command -v script > /dev/null 2>&1; then
    script -qec "$K download --config $T/dl.cfg --db $T/dl5.db --venue binance-spot \
        --symbol BTCUSDT --interval 1m --from $FROM --to $TO --page 60" "$T/tty.out" \
        > /dev/null 2>&1
    check "terminal: a progress bar and ETA" grep -q "\[#*\.*\] *[0-9]*% [0-9]* bars  ETA" "$T/tty.out"
    check "terminal: it ends at 100%" grep -q "\[##############################\] 100% 420 bars" "$T/tty.out"
fi
# OKX: 100-bar pages of history-candles, the same real bars
"$K" download --config "$T/dl.cfg" --db "$T/dl4.db" --venue okx --symbol BTC-USDT --interval 1m \
    --from $FROM --to $TO --out "$T/o.csv" > "$T/dl6.out" 2>&1
check "okx: download exits 0 with 5 pages" grep -q "420 bars in 5 requests" "$T/dl6.out"
check "okx: the same bars" same_csv "$T/o.csv" $F_MS $T_MS
# refusals
"$K" download --venue nope --symbol X --interval 1m --from 2018-01-01 > /dev/null 2> "$T/e1"
check "download: an unknown venue is exit 2" test $? -eq 2
"$K" download --venue binance-usdm --symbol BTCUSDT --interval 1s --from 2018-01-01 \
    > /dev/null 2> "$T/e2"
check "download: 1s on USD-M is refused (exit 2)" test $? -eq 2
"$K" download --venue binance-spot --symbol BTCUSDT --interval 1m --from 2018-13-01 \
    > /dev/null 2> "$T/e3"
check "download: a bad date is exit 2" test $? -eq 2
printf 'venues = { binance-spot = { rest_url = "http://10.0.0.1:80"; }; };\n' > "$T/ins.cfg"
"$K" download --config "$T/ins.cfg" --venue binance-spot --symbol BTCUSDT --interval 1m \
    --from 2018-01-01 --db "$T/x.db" > /dev/null 2> "$T/e4"
check "download: plain http:// to a non-loopback host is refused (exit 2)" test $? -eq 2
check "download: ... and says why" grep -q "rest_url.*10.0.0.1" "$T/e4"
done_tests
