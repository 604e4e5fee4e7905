#!/bin/sh
# TUI test of the Trading screen's chart and panels and of the risk metrics behind them, on the
# real program replaying the bundled BTC and ETH captures in a private tmux server. The store
# holds real daily bars first (octobot's Binance BTCUSDT / ETHUSDT 1d, 2017-2018, from the shared
# data), loaded by the app as each symbol's history:
#  - `ctl risk` metrics: VaR and ES (95 %, 1 day) of the two open positions and the BTC / ETH
#    correlation over their last 30 common days equal what this script computes independently
#    from the same database rows and the exposures the app reports; each has its sample size;
#  - screen 2 shows those numbers (rounded to the cent / 0.01) and the equity, positions and
#    round trips `ctl portfolio` / `ctl trades` report; statistics without a sample say
#    "not enough data";
#  - when an hour of data ends (midnight, reached by a seek) a row of risk metrics is stored
#    (table risk_metrics), stamped with the hour, and its columns match its doc;
#  - the account pane's positions table: symbol, side, qty, entry, mark, uPnL, uPnL %, SL, TP,
#    age equal to `ctl positions`; at 100 columns the columns that do not fit are left out whole;
#  - at 80x24 and 60x20 the screen still draws, nothing cut (hidden panes counted).
# Prints "N passed, N failed". Needs tmux and python3; $KESTREL_BIN, $KESTREL_SHARED_DATA.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init trscr python3
SD=${KESTREL_SHARED_DATA:-$(cd .. && pwd)/shared/data}
S=$SD/binance/streams/spot
ctl() { "$BIN" ctl --socket "$tmp/s" --timeout 5 "$@"; }

cp config/kestrel.cfg "$tmp/k.cfg"
# the database: made by the app, then the real daily bars put into its candles
"$BIN" --headless --exit-at-end --speed 0 --config "$tmp/k.cfg" --db "$tmp/k.db" \
    --socket "$tmp/x.sock" --replay "$S/btcusdt_20240808.gz" >/dev/null 2>&1
cat >"$tmp/seed.py" <<'EOF'
import csv, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n = 0
for sym in ("BTCUSDT", "ETHUSDT"):
    rows = []
    for r in csv.DictReader(open("%s/klines/octobot/binance_%s_1d_1502928000.csv" % (sys.argv[2], sym))):
        k = lambda x: int(round(float(x) * 1e8))
        rows.append(("binance-spot", sym, "1d", int(r["open_time_ms"]), k(r["open"]), k(r["high"]),
                     k(r["low"]), k(r["close"]), k(r["volume"]), 0, 0, 1, 0))
    con.executemany("INSERT OR REPLACE INTO candles(venue,symbol,tf,open_ms,o,h,l,c,volume,"
                    "buy_volume,quote_volume,trades,partial) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    n += len(rows)
con.commit()
print(n)
EOF
seeded=$(python3 "$tmp/seed.py" "$tmp/k.db" "$SD" 2>&1)
[ "${seeded:-0}" -gt 500 ] 2>/dev/null && ok "the store holds $seeded real daily bars" ||
    bad "seeding the daily bars ($seeded)"

$T new-session -d -s k -x 140 -y 45 \
    "$BIN --config $tmp/k.cfg --db $tmp/k.db --socket $tmp/s --speed 1 --replay $S/btcusdt_20240808.gz,$S/ethusdt_20240808.gz,$S/btcusdt_20240809.gz,$S/ethusdt_20240809.gz"
poll_eq 20 "['live', 'live']" '[s["book_state"] for s in j["symbols"]]' status &&
    ok "both books sync" || bad "books sync"
keys 2
expect "Trade history" "screen 2 shows the trade history"
expect "Equity / daily P&L USDT" "screen 2 shows the equity chart"
expect "not enough data (n 0)" "statistics without a sample say not enough data"
expect "VaR / ES" "the risk panel says why there is no VaR yet"
ctl order BTCUSDT buy 0.01 sl=61000 tp=62500 >/dev/null
ctl order ETHUSDT buy 0.2 >/dev/null
ctl pause >/dev/null
# the positions table (account pane): symbol, side, qty, entry, mark, uPnL, uPnL %, SL, TP, age,
# each cell equal to what `ctl positions` says (uPnL and % to the cent, the age on the data
# clock); at 100 columns the columns that do not fit are left out whole, never a cut number
cat >"$tmp/pos.py" <<'PYEOF'
import json, sys
from decimal import Decimal as D, ROUND_HALF_UP, ROUND_DOWN
cols = ["symbol", "side", "qty", "entry", "mark", "uPnL", "uPnL%", "SL", "TP", "age"]
pos = json.load(open(sys.argv[2]))["positions"]
now = int(sys.argv[3]); need = int(sys.argv[4])
panes = [l.split("\u2502")[1] for l in open(sys.argv[1]) if l.count("\u2502") >= 2]
hdr = [l.replace("uPnL %", "uPnL%").split() for l in panes if l.startswith("symbol ")]
if not hdr: print("no positions header"); sys.exit(1)
h = hdr[0]
if h != cols[:len(h)] or len(h) < need: print("header %r" % h); sys.exit(1)
def r2(v):
    q = abs(v).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    return ("+" if v > 0 and q > 0 else "-" if v < 0 and q > 0 else "") + str(q)
def age(ms):
    s = max(ms, 0) // 1000
    if s < 60: return "%ds" % s
    if s < 3600: return "%dm%02ds" % (s // 60, s % 60)
    if s < 86400: return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    return "%dd%02dh" % (s // 86400, s % 86400 // 3600)
for p in pos:
    e, q, u = D(p["entry"]), D(p["qty"]), D(p["upnl"])
    cost = (e * q).quantize(D("1e-8"), rounding=ROUND_DOWN)
    pct = (u * 100 / cost).quantize(D("1e-8"), rounding=ROUND_DOWN)
    want = [p["symbol"], p["side"], p["qty"], p["entry"], p["mark"], r2(u), r2(pct) + "%",
            "-" if D(p["sl"]) == 0 else p["sl"], "-" if D(p["tp"]) == 0 else p["tp"],
            age(now - p["opened"])]
    rows = [l.split() for l in panes if l.startswith(p["symbol"] + " ")]
    if not rows or rows[0] != want[:len(h)]:
        print("%s: screen %r, want %r" % (p["symbol"], rows[:1], want[:len(h)])); sys.exit(1)
print("%d columns: %s" % (len(h), " ".join(h)))
PYEOF
ctl positions >"$tmp/pos.json"
dms=$(cj 'j["data_time_ms"]' status)
pos_ok() { cap; python3 "$tmp/pos.py" "$tmp/screen" "$tmp/pos.json" "$dms" "$1" >"$tmp/pos.out" 2>&1; }
n=$((50 * slow)); while [ "$n" -gt 0 ] && ! pos_ok 10; do sleep 0.1; n=$((n - 1)); done
pos_ok 10 && ok "the positions table: $(cat "$tmp/pos.out"), equal to ctl positions" ||
    { bad "the positions table"; cat "$tmp/pos.out"; }
$T resize-window -t k -x 100 -y 45
n=$((50 * slow)); while [ "$n" -gt 0 ] && ! pos_ok 4; do sleep 0.1; n=$((n - 1)); done
if pos_ok 4 && ! grep -q "^10 columns" "$tmp/pos.out"; then
    ok "100 columns: the positions table keeps $(cat "$tmp/pos.out"), the rest left out whole"
else
    bad "the positions table at 100 columns"; cat "$tmp/pos.out"
fi
$T resize-window -t k -x 140 -y 45
poll_eq 10 "2 ok" '"%d %s" % (j["metrics"]["var"]["positions"], j["metrics"]["var"]["status"])' risk &&
    ok "two open positions, VaR computed" || bad "VaR computed"
ctl risk >"$tmp/risk.json"

# the same figures, from the database rows, independently
cat >"$tmp/check.py" <<'EOF'
import json, math, sqlite3, sys
j = json.load(open(sys.argv[1]))["metrics"]
con = sqlite3.connect(sys.argv[2])
before = 1723075200000  # 2024-08-08 00:00 UTC: the day the replay's data forms
def returns(sym):
    rows = con.execute("SELECT open_ms, c FROM candles WHERE venue='binance-spot' AND symbol=? "
                       "AND tf='1d' AND open_ms < ? ORDER BY open_ms DESC LIMIT 300",
                       (sym, before)).fetchall()[::-1]
    return {rows[i][0]: rows[i][1] / rows[i - 1][1] - 1 for i in range(1, len(rows))
            if rows[i][0] - rows[i - 1][0] == 86400000}
rb, re_ = returns("BTCUSDT"), returns("ETHUSDT")
days = sorted(set(rb) & set(re_))
expo = {e["asset"]: float(e["exposure"]) for e in j["exposure_by_asset"]}
pnl = sorted(expo["BTC"] * rb[d] + expo["ETH"] * re_[d] for d in days)
k = int(len(pnl) * (1 - 0.95))
var, es = max(0, -pnl[k]), max(0, -sum(pnl[:k + 1]) / (k + 1))
v = j["var"]
errs = []
if v["days"] != len(days): errs.append("days %s != %d" % (v["days"], len(days)))
if abs(float(v["var"]) - var) > 1e-6 * var + 1e-7: errs.append("VaR %s != %.8f" % (v["var"], var))
if abs(float(v["es"]) - es) > 1e-6 * es + 1e-7: errs.append("ES %s != %.8f" % (v["es"], es))
last = days[-30:]
x, y = [rb[d] for d in last], [re_[d] for d in last]
mx, my = sum(x) / len(x), sum(y) / len(y)
rho = sum((a - mx) * (b - my) for a, b in zip(x, y)) / math.sqrt(
    sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))
c = j["correlation"]
i, e = c["symbols"].index("binance-spot:BTCUSDT"), c["symbols"].index("binance-spot:ETHUSDT")
if abs(c["matrix"][i][e] - rho) > 2e-6: errs.append("rho %s != %.6f" % (c["matrix"][i][e], rho))
if c["days"][i][e] != 30: errs.append("corr days %s" % c["days"][i][e])
if errs:
    print("; ".join(errs)); sys.exit(1)
print("VaR %.2f ES %.2f over %d days, rho %.4f over 30" % (var, es, len(days), rho))
# what the screen must show: the VaR line and the correlation cell
open(sys.argv[3], "w").write("%.2f\n%.2f\n%d\n%.2f\n" % (float(v["var"]), float(v["es"]), v["days"], c["matrix"][i][e]))
EOF
if python3 "$tmp/check.py" "$tmp/risk.json" "$tmp/k.db" "$tmp/want" >"$tmp/check.out" 2>&1; then
    ok "VaR, ES and correlation equal an independent computation ($(cat "$tmp/check.out"))"
else
    bad "risk metrics vs the database"; cat "$tmp/check.out"
fi
if [ -s "$tmp/want" ]; then
    { read -r wv; read -r we; read -r wd; read -r wr; } <"$tmp/want"
    expect "$wv  ES $we  n $wd days" "screen 2 shows VaR $wv / ES $we with its sample size"
    expect "1 BTCUSDT  1.00  $wr" "screen 2 shows the correlation $wr"
fi
eq=$(cj 'j["equity"]' portfolio)
expect "equity $eq" "the equity chart's header is the portfolio's equity ($eq)"
cap
grep -qE "positions +2 / 5" "$tmp/screen" && ok "the risk panel counts 2 of 5 positions" ||
    bad "positions 2 / 5"

# a round trip: the history and its statistics
ctl resume >/dev/null
ctl close BTCUSDT >/dev/null
poll_eq 10 1 'len(j["trades"])' trades && ok "the close makes a round trip" || bad "round trip"
ctl pause >/dev/null
pnl=$(cj 'j["trades"][0]["pnl"]' trades)
wr=$(cj '"%.1f%%" % (j["stats"]["win_rate"] * 100)' trades)
expect "round trips" "the history's count"
expect "$wr  n 1" "the win rate with its sample size ($wr, n 1)"
case $pnl in -*) sp=$pnl ;; *) sp="+$pnl" ;; esac
expect "$sp" "the round trip's net P&L ($sp) is in the history"

# the hourly rows: cross midnight (seek forward runs at full speed)
[ "$(cj 'j["metrics"]["rows_stored"]' risk)" = 0 ] && ok "no row before an hour of data ended" ||
    bad "rows_stored 0 before midnight"
ctl resume >/dev/null
ctl seek 2024-08-09T00:00:30Z >/dev/null
poll_eq 20 True 'j["metrics"]["rows_stored"] >= 1' risk && ok "the end of the hour stores a row" ||
    bad "rows_stored >= 1"
ctl quit >/dev/null 2>&1
n=$((100 * slow))
while [ "$n" -gt 0 ] && $T has-session -t k 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
cat >"$tmp/rows.py" <<'EOF'
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT time_ms, days, var, es, doc FROM risk_metrics ORDER BY time_ms").fetchall()
hours = [r[0] // 3600000 for r in rows]
if len(rows) < 1 or len(set(hours)) != len(hours) or any(r[0] % 3600000 for r in rows):
    print("rows %r" % [r[0] for r in rows]); sys.exit(1)
if rows[0][0] != 1723161600000:  # 2024-08-09 00:00 UTC: the hour the seek crossed into
    print("first row at %d" % rows[0][0]); sys.exit(1)
for t, d, var, es, doc in rows:
    v = json.loads(doc)["var"]
    if v["days"] != d or v["var"] != var or v["es"] != es:
        print("row %d: columns %r %r %r, doc %r" % (t, d, var, es, v)); sys.exit(1)
if rows[-1][2] is None:
    print("the newest row has no VaR"); sys.exit(1)
print("%d rows, one per hour" % len(rows))
EOF
if python3 "$tmp/rows.py" "$tmp/k.db" >"$tmp/rows.out" 2>&1; then
    ok "risk_metrics: $(cat "$tmp/rows.out"), columns equal their doc"
else
    bad "risk_metrics rows"; cat "$tmp/rows.out"
fi

# small terminals: the screen draws, panes that do not fit are counted
$T kill-server >/dev/null 2>&1
$T new-session -d -s k -x 80 -y 24 \
    "$BIN --config $tmp/k.cfg --db $tmp/k.db --socket $tmp/s --speed 1 --replay $S/btcusdt_20240808.gz"
poll_eq 20 "['live']" '[s["book_state"] for s in j["symbols"]]' status || :
keys 2
expect "Trading" "80x24: screen 2 draws"
for sz in 80x24 60x20; do
    $T resize-window -t k -x "${sz%x*}" -y "${sz#*x}"
    sleep 0.3
    expect "Trading" "$sz: the account pane stays"
    cap
    # a drawn VaR is whole: the line ends with "days" or says why there is none
    if grep -q "VaR" "$tmp/screen" && ! grep -qE "VaR( 95%)?( 1d)? +[0-9.]+  ES [0-9.]+( +n [0-9]+ days)?|VaR / ES" "$tmp/screen"; then
        bad "$sz: a cut VaR line"
    else
        ok "$sz: no VaR figure cut"
    fi
done
ctl quit >/dev/null 2>&1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
