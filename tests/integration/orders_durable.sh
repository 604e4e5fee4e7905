#!/bin/sh
# The trading core's durability through the binary, on real captures:
# - strict write-ahead: a `ctl order` reply comes only after the intent's durable commit, so a
#   kill -9 right after the reply finds the intent in the journal (also while paused, when the
#   reply does not wait for the broker); when the store's writes fail (a file size limit) the
#   order is rejected with the store's reason and never reaches the paper broker;
# - USD-M positions (leverage, isolated margin, entry, liquidation price, funding paid) are the
#   same after kill -9 and a restart, and the restored position closes;
# - a triggered stop-limit is still triggered after kill -9: it rests as its limit and fills
#   there (an un-triggered stop would have waited for a print under its stop);
# - a trailing stop whose best price has moved resumes after kill -9 at the same best and stop
#   and triggers on the print an uninterrupted run triggers on;
# - amend: price and quantity of a resting limit, persisted, rounded, refused when crossing;
# - close-all under a burst of ctl entries: every order ends, every position is closed, HALTED,
#   and every entry sent after the close-all is refused.
. tests/lib.sh
CAP=data/replay/btcusdt_20240808.gz
S=$KESTREL_SHARED_DATA/binance/streams
start() { # db sock replay speed [prefix...]
    db=$1; sock=$2; rp=$3; sp=$4; shift 4
    "$@" "$KESTREL_BIN" --headless --speed "$sp" --db "$db" --socket "$sock" --replay "$rp" \
        > /dev/null 2>>"$T/err" &
    PID=$!
    PIDS="$PIDS $PID"
}
stop9() { kill -9 "$PID"; wait_for 10 sh -c "! kill -0 $PID 2>/dev/null"; }
ctl() { "$KESTREL_BIN" ctl --socket "$SOCK" "$@"; }
live() { [ "$(ctl status 2>/dev/null | python3 -c '
import json,sys
s=json.load(sys.stdin)["symbols"]; print("live" if s and all(x["book_state"]=="live" for x in s) else "no")' 2>/dev/null)" = live ]; }
# stored DB KIND KEY EXPR: the journal holds that record and EXPR holds on its payload `p`
stored() { python3 -c '
import json,sqlite3,sys
db=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True)
r=db.execute("select payload from journal where kind=? and key=?",(sys.argv[2],sys.argv[3])).fetchone()
sys.exit(0 if r and eval(sys.argv[4],{"p":json.loads(r[0])}) else 1)' "$@" 2>/dev/null; }
ofield() { ctl orders | python3 -c '
import json,sys
for o in json.load(sys.stdin)["orders"]:
    if o["id"]==sys.argv[1]: print(o[sys.argv[2]])' "$1" "$2"; }
is_field() { [ "$(ofield "$1" "$2")" = "$3" ]; }
fill_of() { ctl fills | python3 -c '
import json,sys
for f in json.load(sys.stdin)["fills"]:
    if f["order_id"]==sys.argv[1]: print(json.dumps(f)); break' "$1"; }
has_fill() { [ -n "$(fill_of "$1")" ]; }

# ---- write-ahead: kill -9 right after the reply ----
SOCK=$T/w.sock
start "$T/w.db" "$SOCK" "$CAP" 10
check "write-ahead: the book syncs" wait_for 20 live
ctl order BTCUSDT buy 0.001 type=limit price=61000 > "$T/w1.json"
stop9
W1=$(jget "$T/w1.json" 'j["id"]')
check "write-ahead: the reply came (NEW)" eq "$(jget "$T/w1.json" 'j["status"]')" NEW
check "write-ahead: kill -9 right after the reply: the order is in the journal" \
    stored "$T/w.db" order "$W1" 'p["status"] in ("PENDING_NEW","NEW") and p["price"]=="61000"'
start "$T/w.db" "$SOCK" "$CAP" 10
check "write-ahead: restart" wait_for 20 live
ctl pause > /dev/null
ctl order BTCUSDT buy 0.001 type=limit price=61001 > "$T/w2.json"
stop9
W2=$(jget "$T/w2.json" 'j["id"]')
check "write-ahead, paused: the reply is the committed intent (PENDING_NEW: no broker answer while paused)" \
    eq "$(jget "$T/w2.json" 'j["status"]')" PENDING_NEW
check "write-ahead, paused: kill -9 right after the reply: the intent is in the journal" \
    stored "$T/w.db" order "$W2" 'p["status"]=="PENDING_NEW" and p["price"]=="61001"'

# ---- a failing store: the order is rejected and never reaches the broker ----
SOCK=$T/f.sock
start "$T/f.db" "$SOCK" "$CAP,data/replay/ethusdt_20240808.gz" 0 prlimit --fsize=250000
sstate() { [ "$(ctl status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["state"])' 2>/dev/null)" = failing ]; }
check "failing store: the writes fail (a file size limit)" wait_for 60 sstate
ctl order BTCUSDT buy 0.001 type=limit price=61000 > "$T/f1.json" 2>&1
check "failing store: the order is rejected with the store's reason (exit 1)" \
    sh -c "[ $? -ne 0 ] && grep -q 'rejected: not stored durably' '$T/f1.json'"
ctl orders > "$T/f.ord"
check "failing store: REJECTED and never at the broker" python3 -c '
import json,sys
o=json.load(open(sys.argv[1]))["orders"]
assert len(o)==1 and o[0]["status"]=="REJECTED" and o[0]["at_broker"] is False, o
assert "not stored durably" in o[0]["reason"], o' "$T/f.ord"
check "failing store: no fill" eq "$(ctl fills | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["fills"]))')" 0
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- USD-M positions across kill -9 ----
SOCK=$T/u.sock
UCAP=$S/usdm/btcusdt_20240808.gz,$S/usdm/ethusdt_20240808.gz
start "$T/u.db" "$SOCK" "$UCAP" 10
check "usdm: both books sync" wait_for 30 live
ctl order BTCUSDT buy 0.01 leverage=5 > "$T/ub.json"
ctl order ETHUSDT sell 0.2 leverage=3 > "$T/ue.json"
check "usdm: long BTC 5x filled" eq "$(jget "$T/ub.json" 'j["status"]')" FILLED
check "usdm: short ETH 3x filled" eq "$(jget "$T/ue.json" 'j["status"]')" FILLED
usnap() { ctl positions > "$T/$1.pos" && ctl portfolio > "$T/$1.pf" && python3 -c '
import json,sys
p=json.load(open(sys.argv[1]+".pos"))["positions"]
f=json.load(open(sys.argv[1]+".pf"))
keep=("symbol","side","qty","entry","leverage","margin","liq_price","funding","realised_pnl","sl","tp")
pos=sorted([{k:x.get(k) for k in keep} for x in p], key=lambda x: x["symbol"])
print(json.dumps({"positions":pos,"portfolio":{k:f[k] for k in ("cash","realised_pnl","fees","funding")}},sort_keys=True))' "$T/$1"; }
two_fut() { stored "$T/u.db" account paper 'len(p.get("futures",[]))==2'; }
check "usdm: both positions are in the account record" wait_for 10 two_fut
usnap ubefore > "$T/ubefore.txt"
check "usdm: leverage, margin and liquidation price are shown" python3 -c '
import json,sys
from decimal import Decimal as D
j=json.loads(open(sys.argv[1]).read()); p={x["symbol"]:x for x in j["positions"]}
b,e=p["BTCUSDT"],p["ETHUSDT"]
assert b["side"]=="long" and b["qty"]=="0.01" and b["leverage"]==5, b
assert e["side"]=="short" and e["qty"]=="0.2" and e["leverage"]==3, e
assert D(b["margin"])>=D(b["entry"])*D("0.01")/5 and D(b["liq_price"])<D(b["entry"]), b
assert D(e["liq_price"])>D(e["entry"]), e
assert b["funding"]=="0" and e["funding"]=="0", (b, e)' "$T/ubefore.txt"
stop9
start "$T/u.db" "$SOCK" "$UCAP" 1
check "usdm: restart after kill -9" wait_for 30 live
usnap uafter > "$T/uafter.txt"
check "usdm: leverage, margin, entry, liquidation price, funding and P&L identical after kill -9" \
    eq "$(cat "$T/uafter.txt")" "$(cat "$T/ubefore.txt")"
ctl close BTCUSDT > /dev/null
btc_flat() { ctl positions | python3 -c '
import json,sys
sys.exit(0 if [x["symbol"] for x in json.load(sys.stdin)["positions"]]==["ETHUSDT"] else 1)'; }
check "usdm: the restored long closes (the paper broker has it back)" wait_for 20 btc_flat
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- a triggered stop-limit across kill -9 ----
SOCK=$T/s.sock
start "$T/s.db" "$SOCK" "$CAP" 10
check "stop-limit: the book syncs" wait_for 20 live
ctl order BTCUSDT buy 0.002 > "$T/sb.json"
check "stop-limit: bought 0.002" eq "$(jget "$T/sb.json" 'j["status"]')" FILLED
ctl order BTCUSDT sell 0.002 type=stop_limit stop=61790 price=61830 > "$T/sl.json"
SL=$(jget "$T/sl.json" 'j["id"]')
check "stop-limit: accepted" eq "$(jget "$T/sl.json" 'j["status"]')" NEW
check "stop-limit: it triggers on the first print <= 61790 and the triggered state is stored" \
    wait_for 40 stored "$T/s.db" order "$SL" 'p["triggered"] is True and p["status"]=="NEW"'
check "stop-limit: its limit 61830 rests (the market stays under it after the trigger)" \
    is_field "$SL" status NEW
stop9
start "$T/s.db" "$SOCK" "$CAP" 1
check "stop-limit: restart" wait_for 20 live
check "stop-limit: still triggered after the restart" is_field "$SL" triggered True
check "stop-limit: it rests as its limit and fills there on the replay's first prints (61837)" \
    wait_for 30 has_fill "$SL"
check "stop-limit: at 61830 as maker (no second trigger, not lost)" \
    eq "$(fill_of "$SL" | python3 -c 'import json,sys; f=json.load(sys.stdin); print(f["price"], f["qty"], f["liquidity"])')" \
    "61830.00 0.00200 maker"

# ---- amend ----
ctl order BTCUSDT buy 0.002 type=limit price=61000 > "$T/a.json"
A=$(jget "$T/a.json" 'j["id"]')
check "amend: the limit rests" wait_for 10 is_field "$A" status NEW
ctl amend "$A" price=61100.009 qty=0.003 > "$T/a1.json" 2>&1 ||
    { echo "   amend said: $(cat "$T/a1.json")"; ctl orders | grep -o "\"id\":\"$A\"[^}]*"; }
check "amend: price rounded down to the tick (passive), quantity" \
    eq "$(jget "$T/a1.json" 'j["price"]+" "+j["qty"]+" "+j["status"]')" "61100.00 0.00300 NEW"
check "amend: persisted" wait_for 10 stored "$T/s.db" order "$A" 'p["price"]=="61100" and p["qty"]=="0.003"'
ctl amend "$A" price=99999 > "$T/a2.json" 2>&1
check "amend: a price that would cross the book is refused" grep -q "would cross the book" "$T/a2.json"
ctl amend "$A" qty=0.00001 > "$T/a3.json" 2>&1
check "amend: the instrument's rules apply" grep -qi "notional .*BTCUSDT" "$T/a3.json"
ctl amend "$SL" price=61000 > "$T/a4.json" 2>&1
check "amend: a stop-limit cannot be amended (limits only)" grep -q "is a stop_limit order: only a resting limit" "$T/a4.json"

# ---- dust: the real 2021 BTCUSDT filters (minNotional 10) ----
ctl order BTCUSDT buy 0.001 > "$T/d1.json"
ctl order BTCUSDT sell 0.00085 > "$T/d2.json"
check "dust: bought 0.001, sold 0.00085" eq "$(jget "$T/d1.json" 'j["status"]') $(jget "$T/d2.json" 'j["status"]')" "FILLED FILLED"
ctl positions > "$T/d.pos"
check "dust: the 0.00015 BTC left (~9.3 USDT < minNotional 10) is shown as dust" python3 -c '
import json,sys
p=[x for x in json.load(open(sys.argv[1]))["positions"] if x["symbol"]=="BTCUSDT"]
assert len(p)==1 and p[0]["qty"]=="0.00015" and p[0]["dust"] is True, p' "$T/d.pos"
check "dust: not an open position" eq "$(ctl portfolio | python3 -c 'import json,sys; print(json.load(sys.stdin)["open_positions"])')" 0
ctl close BTCUSDT > "$T/d3.json" 2>&1
check "dust: close says there is only dust and how to sweep it" \
    grep -q "only dust left on BTCUSDT (0.00015, below the venue minimum): .sweep BTCUSDT" "$T/d3.json"
ctl sweep BTCUSDT > "$T/d4.json"
check "dust: sweep sends the remainder" eq "$(jget "$T/d4.json" 'j["sweeping"]')" 0.00015
no_btc() { ctl positions | python3 -c '
import json,sys
sys.exit(0 if not [x for x in json.load(sys.stdin)["positions"] if x["symbol"]=="BTCUSDT"] else 1)'; }
check "dust: swept, flat" wait_for 10 no_btc
ctl orders > "$T/d.ord"
SW=$(python3 -c '
import json,sys
print([o["id"] for o in json.load(open(sys.argv[1]))["orders"] if o.get("sweep")][0])' "$T/d.ord")
check "dust: the sweep sold at the bid paying the documented 2% (rounded up to 1e-8)" python3 -c '
import json,sys
from decimal import Decimal as D, ROUND_CEILING
f=[x for x in json.load(sys.stdin)["fills"] if x["order_id"]==sys.argv[1]]
assert len(f)==1 and f[0]["qty"]=="0.00015" and f[0]["side"]=="sell", f
n=(D(f[0]["price"])*D(f[0]["qty"])).quantize(D("1e-8"))
assert D(f[0]["fee"])==(n*2/100).quantize(D("1e-8"),rounding=ROUND_CEILING), (f, n)' "$SW" <<EOF2
$(ctl fills)
EOF2
ctl sweep BTCUSDT > "$T/d5.json" 2>&1
check "dust: nothing left to sweep" grep -q "no position on BTCUSDT" "$T/d5.json"

# ---- a seek backwards re-runs with a fresh account: the earlier run's open orders leave ----
check "seek: the amended limit still rests" is_field "$A" status NEW
ctl seek -20 > /dev/null
check "seek: the earlier run's open order is closed in the journal" wait_for 10 \
    stored "$T/s.db" order "$A" 'p["status"]=="CANCELED" and "re-ran" in p["reason"]'
check "seek: the re-run syncs" wait_for 20 live
ctl order BTCUSDT buy 0.001 type=limit price=61000 > "$T/sk.json"
K=$(jget "$T/sk.json" 'j["id"]')
check "seek: the re-run's ids are new" python3 -c '
import sqlite3,sys
db=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True)
n=db.execute("select count(*) from journal where kind=\"order\" and key=?",(sys.argv[2],)).fetchone()[0]
ids=[r[0] for r in db.execute("select key from journal where kind=\"order\"")]
assert n==1 and ids.count(sys.argv[2])==1 and len(ids)==len(set(ids)), ids' "$T/s.db" "$K"
check "seek: the re-run's first id is not the earlier run's first id" test "$K" != "$A"
check "seek: the new order is stored" wait_for 10 stored "$T/s.db" order "$K" 'p["status"]=="NEW"'
stop9
start "$T/s.db" "$SOCK" "$CAP" 10
check "seek: restart" wait_for 20 live
ctl orders > "$T/sk.ord"
check "seek: after kill -9 only the re-run's order rests again" python3 -c '
import json,sys
o=[x["id"] for x in json.load(open(sys.argv[1]))["orders"] if x["status"] in ("NEW","PARTIALLY_FILLED")]
assert o==[sys.argv[2]], o' "$T/sk.ord" "$K"
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- a trailing stop that has moved, across kill -9 ----
# trail 0.3% on the capture: its best climbs to the capture's high 61860.8 (55 s in), the stop
# to 61675.2176; the first print at or under it comes 217.5 s in. Killed in between, the
# restart (the replay starts again from its first print, none above the high) must resume at
# the same best and stop, and trigger on the print an uninterrupted run triggers on.
SOCK=$T/t.sock
start "$T/t.db" "$SOCK" "$CAP" 10
check "trailing: the book syncs" wait_for 20 live
ctl order BTCUSDT buy 0.002 > "$T/tb.json"
check "trailing: bought 0.002" eq "$(jget "$T/tb.json" 'j["status"]')" FILLED
ctl order BTCUSDT sell 0.002 type=trailing trail=0.3 > "$T/tr.json"
TR=$(jget "$T/tr.json" 'j["id"]')
check "trailing: accepted" eq "$(jget "$T/tr.json" 'j["status"]')" NEW
check "trailing: its best follows the prints to the high and each move is stored" \
    wait_for 60 stored "$T/t.db" order "$TR" 'p["trail_best"]=="61860.8" and p["status"]=="NEW"'
check "trailing: the stop moved with it (61860.8 - 0.3%, the distance rounded up)" \
    is_field "$TR" trail_stop 61675.2176
check "trailing: not triggered before the kill" is_field "$TR" triggered False
stop9
start "$T/t.db" "$SOCK" "$CAP" 10
check "trailing: restart" wait_for 20 live
check "trailing: after kill -9 it rests again (not closed as lost)" is_field "$TR" status NEW
check "trailing: the same best price" is_field "$TR" trail_best 61860.8
check "trailing: the same stop price" is_field "$TR" trail_stop 61675.2176
check "trailing: it triggers and sells" wait_for 60 has_fill "$TR"
fill_of "$TR" > "$T/trf.json"
check "trailing: on the print an uninterrupted run triggers on (the first <= 61675.2176 after the high)" python3 -c '
import gzip,json,sys
f=json.load(open(sys.argv[1]))
pr=[]
for line in gzip.open(sys.argv[2],"rt"):
    d=json.loads(line[line.find(" ")+1:]); d=d.get("data",d)
    if d.get("e")=="trade": pr.append((d["T"],d["p"]))
from decimal import Decimal as D
hi=max(D(p) for t,p in pr); th=[t for t,p in pr if D(p)==hi][0]
stop=hi-hi*D("0.3")/100
assert hi==D("61860.8") and stop==D("61675.2176"), (hi, stop)
uninterrupted=[t for t,p in pr if t>th and D(p)<=stop][0]
restarted=[t for t,p in pr if D(p)<=stop][0]
assert uninterrupted==restarted, (uninterrupted, restarted)
assert f["side"]=="sell" and f["qty"]=="0.00200" and f["liquidity"]=="taker", f
assert 0 <= int(f["time"])-restarted <= 200, (f, restarted)
assert abs(D(f["price"])-stop) < stop*D("0.001"), f' "$T/trf.json" "$CAP"
check "trailing: FILLED and stored so" wait_for 10 stored "$T/t.db" order "$TR" \
    'p["status"]=="FILLED" and p["triggered"] is True'
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- a starting holding other than the cash asset is a long, never a short ----
printf 'paper: { balances: { USDT = "10000"; BTC = "0.01"; }; };\n' > "$T/h.cfg"
SOCK=$T/h.sock
"$KESTREL_BIN" --headless --speed 10 --config "$T/h.cfg" --db "$T/h.db" --socket "$SOCK" \
    --replay "$CAP" > /dev/null 2>>"$T/err" &
PID=$!
PIDS="$PIDS $PID"
check "holding: the book syncs" wait_for 20 live
hpos() { ctl positions | python3 -c '
import json,sys
p=[x for x in json.load(sys.stdin)["positions"] if x["symbol"]=="BTCUSDT"]
sys.exit(0 if p and p[0]["side"]==sys.argv[1] and p[0]["qty"]==sys.argv[2] else 1)' "$1" "$2"; }
check "holding: BTC 0.01 from paper.balances is a long position" wait_for 10 hpos long 0.01
ctl portfolio > "$T/h0.pf"
ctl order BTCUSDT sell 0.004 > "$T/hs.json"
check "holding: selling part of it" eq "$(jget "$T/hs.json" 'j["status"]')" FILLED
check "holding: reduces the long (not a short)" wait_for 10 hpos long 0.006
ctl portfolio > "$T/h1.pf"
check "holding: cash grows by the proceeds net of the fee" python3 -c '
import json,sys
from decimal import Decimal as D
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert D(a["cash"])==D("10000"), a
assert D("10000")+D("0.004")*61000 < D(b["cash"]) < D("10000")+D("0.004")*62000, b
assert D(a["equity"])>D("10600"), a' "$T/h0.pf" "$T/h1.pf"
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"

# ---- close-all under a burst of entries ----
SOCK=$T/c.sock
start "$T/c.db" "$SOCK" "$CAP,data/replay/ethusdt_20240808.gz" 10
check "close-all: the books sync" wait_for 30 live
ctl order BTCUSDT buy 0.002 > /dev/null
ctl order ETHUSDT buy 0.05 > /dev/null
# the burst runs until the close-all has answered and five more entries have gone after it
# (bounded at 400), so a slow machine cannot end it before the close-all
burst() { i=0; after=0; while [ $i -lt 400 ] && [ $after -lt 5 ]; do
    [ -f "$T/ca.time" ] && after=$((after + 1))
    date +%s%N > "$T/bt.$i"
    case $((i % 4)) in
    0) ctl order BTCUSDT buy 0.001 ;;
    1) ctl order ETHUSDT buy 0.01 type=limit price=2500 ;;
    2) ctl order ETHUSDT buy 0.01 ;;
    3) ctl order BTCUSDT buy 0.001 type=limit price=60000 ;;
    esac > "$T/burst.$i" 2>&1
    i=$((i + 1)); done; echo done > "$T/burst.end"; }
burst &
BP=$!
PIDS="$PIDS $BP"
nord() { [ "$(ctl orders | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')" -ge "$1" ]; }
check "close-all: the burst is under way" wait_for 20 nord 8
ctl close-all > "$T/ca.json"
date +%s%N > "$T/ca.time.tmp" && mv "$T/ca.time.tmp" "$T/ca.time"
check "close-all: HALTED" eq "$(jget "$T/ca.json" 'j["risk_state"]')" HALTED
check "close-all: the burst ends" wait_for 60 test -f "$T/burst.end"
settled() { ctl positions > "$T/c.pos" && ctl orders > "$T/c.ord" && python3 -c '
import json,sys
p=[x for x in json.load(open(sys.argv[1]))["positions"] if not x["dust"]]
o=json.load(open(sys.argv[2]))["orders"]
sys.exit(0 if not p and all(x["status"] in ("FILLED","CANCELED","REJECTED","EXPIRED") for x in o) else 1)' "$T/c.pos" "$T/c.ord"; }
check "close-all: every order ends and every position is closed" wait_for 30 settled
check "close-all: still HALTED" eq "$(ctl risk | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" HALTED
check "close-all: resting entries were canceled, none filled after it" python3 -c '
import json,sys
o=json.load(open(sys.argv[1]))["orders"]
lim=[x for x in o if x["type"]=="limit"]
assert lim and all(x["status"]=="CANCELED" and x["filled"]=="0" for x in lim), lim' "$T/c.ord"
check "close-all: entries sent after it were refused (HALTED), at least one" python3 -c '
import glob,os,sys
t=int(open(sys.argv[1]).read())
late=[sys.argv[2]+"/burst."+f.split(".")[-1] for f in glob.glob(sys.argv[2]+"/bt.*")
      if int(open(f).read())>t]
assert late, "no entry after the close-all"
bad=[f for f in late if "HALTED" not in open(f).read()]
assert not bad, [(f, open(f).read()) for f in bad]' "$T/ca.time" "$T"
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $PID 2>/dev/null"
done_tests
