#!/bin/sh
# Every order type through the binary on the real bundled replay (BTCUSDT 2024-08-08, trades from
# 61837 down to 61583 in its first four minutes; the times below are what this capture says):
# a limit buy under the market rests and fills at its price as maker when the trades print
# through it (about 218 s of data in); a sell stop triggers on the first print at or under it
# (93 s) and sells at market; the instrument's filters round the price on the passive side and
# name the rule they refuse; a cancel ends an order and a second one is refused; an order's
# sl / tp become the position's protection. Then kill -9 and a restart on the same --db: the
# positions, open orders and P&L come back identically; `kestrel export trades|equity` read the
# store; `C` on the Trading screen cancels the selected order (tmux).
. tests/lib.sh
CAP=data/replay/btcusdt_20240808.gz
start() { # db sock [speed]
    "$KESTREL_BIN" --headless --speed "${3:-10}" --db "$1" --socket "$2" --replay "$CAP" \
        > /dev/null 2>>"$T/err" &
    PID=$!
    PIDS="$PIDS $PID"
}
ctl() { "$KESTREL_BIN" ctl --socket "$T/o.sock" "$@"; }
live() { [ "$(ctl status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["symbols"][0]["book_state"])' 2>/dev/null)" = live ]; }
# ostatus ID: the order's status
ostatus() { ctl orders | python3 -c '
import json,sys
for o in json.load(sys.stdin)["orders"]:
    if o["id"]==sys.argv[1]: print(o["status"])' "$1"; }
is_status() { [ "$(ostatus "$1")" = "$2" ]; }
# fill_of ID: the first fill of that order (json), empty when none
fill_of() { ctl fills | python3 -c '
import json,sys
for f in json.load(sys.stdin)["fills"]:
    if f["order_id"]==sys.argv[1]: print(json.dumps(f)); break' "$1"; }
has_fill() { [ -n "$(fill_of "$1")" ]; }

start "$T/o.db" "$T/o.sock"
check "the book syncs" wait_for 20 live
ctl order BTCUSDT buy 0.01 > "$T/m.json"
M=$(jget "$T/m.json" 'j["id"]')
check "market buy: the reply comes when the broker has answered (filled)" \
    eq "$(jget "$T/m.json" 'j["status"]')" FILLED
check "market buy: filled" wait_for 20 has_fill "$M"
fill_of "$M" > "$T/mf.json"

# shape and precision are checked before anything leaves
ctl order BTCUSDT buy 0.01 type=limit > "$T/e1.json" 2>&1
check "limit without price: refused" grep -q 'type=limit needs price=P' "$T/e1.json"
ctl order BTCUSDT buy 0.01 type=stop stop=1000 > "$T/e2.json" 2>&1
check "a buy stop under the market: refused, it would trigger at once" \
    grep -q 'buy stop 1000 <= last price .*trigger immediately' "$T/e2.json"
ctl order BTCUSDT buy 0.01 type=limit price=1 > "$T/e3.json" 2>&1
check "the instrument's PERCENT_PRICE rule, with the numbers" \
    grep -q 'price 1 outside PERCENT_PRICE \[.*\] of avg .* for BTCUSDT' "$T/e3.json"
ctl order BTCUSDT buy 0.00001 type=limit price=61000 > "$T/e4.json" 2>&1
check "the min notional rule, with the numbers" grep -qi 'notional .*BTCUSDT' "$T/e4.json"
ctl order BTCUSDT buy 0.001 type=limit price=99999 post_only > "$T/po.json" 2>&1
check "post-only that would take: the reply is the broker's rejection (exit 1)" \
    grep -q 'rejected: post-only order would take liquidity' "$T/po.json"
ctl order BTCUSDT buy 0.01 type=limit price=61000 tif=fok > "$T/fok.json"
check "the reply waits for the broker: a FOK that cannot fill is EXPIRED, with the reason" \
    eq "$(jget "$T/fok.json" 'j["status"]+": "+j["reason"]')" "EXPIRED: FOK: not marketable at its limit"
ctl order BTCUSDT buy 0.01 type=iceberg > "$T/e5.json" 2>&1
check "an unknown type: refused" grep -q "type 'iceberg' is not" "$T/e5.json"
ctl order BTCUSDT buy 0.01 type=limit price=61000 post_only tif=ioc > "$T/e6.json" 2>&1
check "post_only with tif=ioc: refused" grep -q 'post_only cannot be combined' "$T/e6.json"

# the resting orders
ctl order BTCUSDT sell 0.01 type=stop stop=61790 > "$T/s.json"
S=$(jget "$T/s.json" 'j["id"]')
check "sell stop 61790: accepted" test -n "$S"
ctl order BTCUSDT buy 0.01 type=limit price=61700.009 sl=61000 tp=62500 > "$T/l.json"
L=$(jget "$T/l.json" 'j["id"]')
check "limit buy: the price rounded down to the tick (passive side)" \
    eq "$(jget "$T/l.json" 'j["price"]+" "+j["type"]+" "+j["tif"]')" "61700.00 limit gtc"
ctl order BTCUSDT buy 0.01 type=limit price=61000 > "$T/c.json"
C=$(jget "$T/c.json" 'j["id"]')
check "limit buy 61000 rests" wait_for 10 is_status "$C" NEW
check "limit buy 61700 rests (the market is above it)" is_status "$L" NEW
ctl cancel "$C" > "$T/cx.json"
check "cancel: on its way" eq "$(jget "$T/cx.json" 'j["status"]')" PENDING_CANCEL
check "cancel: CANCELED" wait_for 10 is_status "$C" CANCELED
ctl cancel "$C" > "$T/cx2.json" 2>&1
check "a second cancel is refused" grep -q "is already CANCELED" "$T/cx2.json"
ctl cancel nosuchid > "$T/cx3.json" 2>&1
check "cancel of an unknown id is refused" grep -q "no order nosuchid" "$T/cx3.json"

check "the sell stop triggers on the print through 61790 and sells at market" \
    wait_for 40 has_fill "$S"
fill_of "$S" > "$T/sf.json"
check "the stop's fill: sell 0.01 taker, right after the capture's first print <= 61790, at the book" python3 -c '
import gzip,json,sys
f=json.load(open(sys.argv[1]))
trig=None
for line in gzip.open(sys.argv[2],"rt"):
    d=json.loads(line[line.find(" ")+1:]); d=d.get("data",d)
    if d.get("e")=="trade" and float(d["p"])<=61790: trig=d["T"]; break
assert f["side"]=="sell" and f["qty"]=="0.01000" and f["liquidity"]=="taker", f
assert trig and 0 <= int(f["time"])-trig <= 200, (f, trig)
assert abs(float(f["price"])-61790) < 61790*0.001, f' "$T/sf.json" "$CAP"
check "the limit buy fills when the trades print through 61700" wait_for 60 has_fill "$L"
fill_of "$L" > "$T/lf.json"
check "the limit's fill: at its price, maker, fee 0.1% of 617 = 0.617" \
    eq "$(jget "$T/lf.json" 'j["price"]+" "+j["qty"]+" "+j["liquidity"]+" "+j["fee"]')" \
    "61700.00 0.01000 maker 0.617"
check "the limit order is FILLED" wait_for 5 is_status "$L" FILLED
ctl positions > "$T/p.json"
check "the position carries the order's sl / tp" \
    eq "$(jget "$T/p.json" 'j["positions"][0]["sl"]+" "+j["positions"][0]["tp"]')" "61000 62500"
ctl trades > "$T/tr.json"
check "one round trip (market buy, stop sell) net of both fees" python3 -c '
import json,sys
from decimal import Decimal as D
j=json.load(open(sys.argv[1])); t=j["trades"]
assert len(t)==1 and j["stats"]["trades"]==1, j
b=json.load(open(sys.argv[2])); s=json.load(open(sys.argv[3]))
fees=D(b["fee"])+D(s["fee"])
assert D(t[0]["pnl"])==(D(s["price"])-D(b["price"]))*D("0.01")-fees, (t, b, s)' \
    "$T/tr.json" "$T/mf.json" "$T/sf.json"

# ---- kill -9 with an open position and a resting order; restart on the same database ----
ctl order BTCUSDT buy 0.002 type=limit price=61100 > "$T/o2.json"
O=$(jget "$T/o2.json" 'j["id"]')
check "one more limit rests" wait_for 10 is_status "$O" NEW
snap() { # the stable parts: positions but the mark, open orders, the P&L
    ctl positions > "$T/$1.pos" && ctl orders > "$T/$1.ord" && ctl portfolio > "$T/$1.pf" &&
    python3 -c '
import json,sys
p=json.load(open(sys.argv[1]+".pos"))["positions"]
o=json.load(open(sys.argv[1]+".ord"))["orders"]
f=json.load(open(sys.argv[1]+".pf"))
pos=[{k:v for k,v in x.items() if k not in ("mark","upnl")} for x in p]
opn=[(x["id"],x["type"],x["side"],x["qty"],x["price"],x["stop"],x["filled"],x["status"]) for x in o
     if x["status"] in ("NEW","PARTIALLY_FILLED")]
pf={k:f[k] for k in ("cash","realised_pnl","fees","funding")}
print(json.dumps({"positions":pos,"open_orders":opn,"portfolio":pf},sort_keys=True))' "$T/$1"
}
# stored KIND KEY EXPR: the durable lane holds that record and EXPR holds on its payload `p`
stored() { python3 -c '
import json,sqlite3,sys
db=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True)
r=db.execute("select payload from journal where kind=? and key=?",(sys.argv[2],sys.argv[3])).fetchone()
sys.exit(0 if r and eval(sys.argv[4],{"p":json.loads(r[0])}) else 1)' "$T/o.db" "$@" 2>/dev/null; }
check "the resting order is in the durable lane before the kill" \
    wait_for 10 stored order "$O" 'p["status"]=="NEW"'
snap before > "$T/before.txt"
kill -9 "$PID"
wait_for 10 sh -c "! kill -0 $PID 2>/dev/null"
start "$T/o.db" "$T/o.sock" 1
check "restart: the book syncs" wait_for 20 live
snap after > "$T/after.txt"
check "restart after kill -9: the same positions, open orders and P&L" \
    eq "$(cat "$T/after.txt")" "$(cat "$T/before.txt")"
check "restart: the open position and the resting order are really there" python3 -c '
import json,sys
j=json.loads(open(sys.argv[1]).read())
assert len(j["positions"])==1 and j["positions"][0]["qty"]=="0.01", j
assert [o[0] for o in j["open_orders"]]==[sys.argv[2]], j' "$T/after.txt" "$O"
ctl order BTCUSDT buy 0.001 type=limit price=61000 > "$T/n.json"
check "restart: new client ids never reuse an old one" python3 -c '
import json,sys
new=json.load(open(sys.argv[1]))["id"]
assert new and new not in sys.argv[2:], new' "$T/n.json" "$M" "$S" "$L" "$C" "$O"
ctl cancel "$O" > /dev/null
check "the restored order can be canceled" wait_for 10 is_status "$O" CANCELED
ctl close BTCUSDT > /dev/null
flat() { [ "$(ctl positions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["positions"]))')" = 0 ]; }
check "the restored position can be closed (the paper balance came back too)" wait_for 20 flat
ctl close-all > /dev/null
check "close-all: the halt is in the durable lane" wait_for 10 stored account paper '"halted" in p'
kill -9 "$PID"
wait_for 10 sh -c "! kill -0 $PID 2>/dev/null"
start "$T/o.db" "$T/o.sock" 1
check "restart: the book syncs again" wait_for 20 live
rstate() { ctl risk | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
check "a close-all halt survives kill -9 (a person resumes it)" eq "$(rstate)" HALTED
ctl start > /dev/null
check "start resumes it" eq "$(rstate)" ACTIVE
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- the store's exports ----
"$KESTREL_BIN" export trades --db "$T/o.db" --format csv > "$T/trades.csv"
check "export trades csv: exit 0" test $? -eq 0
check "export trades csv: header" eq "$(head -n 1 "$T/trades.csv")" \
    "id,venue,symbol,side,qty,entry,exit,opened,closed,pnl,fees,funding"
check "export trades: the stop's round trip and the restored position's close" \
    eq "$(tail -n +2 "$T/trades.csv" | wc -l | tr -d ' ')" 2
"$KESTREL_BIN" export trades --db "$T/o.db" --format json > "$T/trades.json"
check "export trades json: the first one is what ctl trades said" \
    eq "$(jget "$T/trades.json" 'j[0]["pnl"]')" "$(jget "$T/tr.json" 'j["trades"][0]["pnl"]')"
"$KESTREL_BIN" export equity --db "$T/o.db" --format csv > "$T/eq.csv"
check "export equity csv: header" eq "$(head -n 1 "$T/eq.csv")" "time,equity,peak_equity,drawdown"
check "export equity: one sample per minute of data (at least 3)" \
    test "$(tail -n +2 "$T/eq.csv" | wc -l)" -ge 3
"$KESTREL_BIN" export equity --db "$T/o.db" --format json > "$T/eq.json"
check "export equity json: peak >= equity, drawdown >= 0 on every row" python3 -c '
import json,sys
from decimal import Decimal as D
r=json.load(open(sys.argv[1])); assert r
for x in r: assert D(x["peak_equity"])>=D(x["equity"]) and D(x["drawdown"])>=0, x' "$T/eq.json"

# ---- the trading config keys and ctl get / set ----
cat > "$T/k.cfg" <<'EOF2'
paper: { balances: { USDT = "5000"; }; slippage_cap_pct = 0.5; };
fees: { binance-spot: { maker = 0.05; taker = "0.075"; }; };
risk: { size_mode = "fixed_quote"; max_positions = 3; max_asset_pct = 20; };
EOF2
"$KESTREL_BIN" --headless --speed 1 --config "$T/k.cfg" --db "$T/k.db" --socket "$T/k.sock" \
    --replay "$CAP" > /dev/null 2>>"$T/err" &
PIDS="$PIDS $!"
kctl() { "$KESTREL_BIN" ctl --socket "$T/k.sock" "$@"; }
kup() { kctl ping > /dev/null 2>&1; }
check "config: the app starts with the trading keys" wait_for 20 kup
kctl get > "$T/get.json"
check "config: ctl get shows what the file set" \
    eq "$(jget "$T/get.json" '" ".join(j["settings"][k] for k in ("paper.balances.USDT","paper.slippage_cap_pct","fees.binance-spot.maker","fees.binance-spot.taker","risk.size_mode","risk.max_positions","risk.max_asset_pct","risk.daily_loss_pct"))')" \
    "5000 0.5 0.05 0.075 fixed_quote 3 20 3"
check "config: the starting cash is paper.balances.USDT" \
    eq "$(kctl portfolio | python3 -c 'import json,sys; print(json.load(sys.stdin)["equity"])')" 5000
kctl set risk.max_positions 7 > "$T/set.json"
check "set: applied at once" eq "$(kctl get risk.max_positions | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')" 7
kctl set risk.max_positions 0 > "$T/set2.json" 2>&1
check "set: a value out of range is refused with the range" \
    grep -q 'risk.max_positions 0 outside \[1, 100\]' "$T/set2.json"
kctl set risk.nope 1 > "$T/set3.json" 2>&1
check "set: an unknown key is refused" grep -q "unknown key.*risk.nope" "$T/set3.json"
kctl set fees.binance-spot.taker 0.2 > /dev/null
check "set: a fee" eq "$(kctl get fees.binance-spot.taker | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')" 0.2
kctl quit > /dev/null
printf 'risk: { max_leverage = 11; };\n' > "$T/bad.cfg"
"$KESTREL_BIN" --headless --config "$T/bad.cfg" --db "$T/b.db" --replay "$CAP" > /dev/null 2>"$T/bad.err"
check "config: a bad trading value is exit 2 with file:line and the range" \
    sh -c "[ $? -eq 2 ] && grep -q 'bad.cfg:1: risk.max_leverage 11 outside \[1, 10\]' '$T/bad.err'"

# ---- C on the Trading screen cancels the selected order (the real TUI in tmux) ----
tmux_init kestrel-orders
$TM new-session -d -x 140 -y 40 "$KESTREL_BIN --db $T/u.db --socket $T/u.sock --replay $CAP"
uctl() { "$KESTREL_BIN" ctl --socket "$T/u.sock" "$@"; }
ulive() { [ "$(uctl status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["symbols"][0]["book_state"])' 2>/dev/null)" = live ]; }
check "TUI: the book syncs" wait_for 20 ulive
U1=$(uctl order BTCUSDT buy 0.001 type=limit price=61000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
U2=$(uctl order BTCUSDT buy 0.001 type=limit price=61100 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
$TM send-keys 2
shows() { $TM capture-pane -p | grep -q "$1"; }
check "screen 2: both open orders listed" wait_for 10 shows "open orders (2)"
check "screen 2: the first is selected" wait_for 5 shows "> $U1 BTCUSDT buy limit 0.001 @ 61000"
$TM send-keys Down
check "Down selects the second" wait_for 5 shows "> $U2 BTCUSDT buy limit"
$TM send-keys C
ustatus() { uctl orders | python3 -c '
import json,sys
for o in json.load(sys.stdin)["orders"]:
    if o["id"]==sys.argv[1]: print(o["status"])' "$1"; }
uis() { [ "$(ustatus "$1")" = "$2" ]; }
check "C cancels the selected order (the second)" wait_for 10 uis "$U2" CANCELED
check "the other one still rests" uis "$U1" NEW
check "screen 2: one open order left" wait_for 10 shows "open orders (1)"

# the order ticket: the rounded values, notional, fee and risk verdict, then the confirm
$TM send-keys o
check "o opens the ticket on the focused symbol" wait_for 5 shows "BTCUSDT (binance-spot)  last"
$TM send-keys 1 0 0 0
check "ticket: an impossible size shows the instrument's rule" \
    wait_for 5 shows "risk: qty 1000 > MARKET_LOT_SIZE maxQty"
$TM send-keys Enter
check "ticket: a refused order cannot be reviewed" wait_for 5 shows "Enter review"
$TM send-keys BSpace BSpace BSpace BSpace 0 . 0 0 1 Up Right Down Down 6 1 0 0 0 . 0 0 9
check "ticket: limit buy 0.001 @ 61000.009 shows the rounded price, notional and maker fee" \
    wait_for 5 shows "buy 0.00100 @ 61000.00  notional 61.00  fee 0.061 maker"
check "ticket: and the risk verdict" wait_for 5 shows "risk: ok"
$TM send-keys Enter
check "ticket: Enter shows the final confirm" wait_for 5 shows "Enter / y: send this order"
$TM send-keys y
check "ticket: y sends it and closes the ticket" wait_for 5 sh -c "! $TM capture-pane -p | grep -q 'Order ticket'"
tk() { uctl orders | python3 -c '
import json,sys
o=[x for x in json.load(sys.stdin)["orders"] if x["status"]=="NEW" and x["price"]=="61000" and x["qty"]=="0.001"]
sys.exit(0 if len(o)==2 else 1)'; }
check "ticket: the order rests like a ctl one (rounded to 61000)" wait_for 10 tk
$TM send-keys q y
$TM kill-server 2>/dev/null
done_tests
