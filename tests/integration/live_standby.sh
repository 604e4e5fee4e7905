#!/bin/sh
# health.warm_standby end to end against the fake exchange (tests/fake/, loopback, the real
# captures with their times moved to now), `kestrel --headless --live`, read through the control
# socket. Each book connection has a second connection to the same URL, kept subscribed and
# matched against the applied frames ("standby": "synced"). The fake stalls the oldest of the two
# (one=1: the socket open, nothing sent): the standby, which keeps delivering, leads by more than
# the 100 ms cadence and is switched to at once: standby_switches counted, the book live
# throughout with no resync and no new REST snapshot, data flowing, and the stalled one (now the
# standby) reconnected and synced again. At the end the book equals the fake's (nothing missed, nothing applied twice). With
# the key off there is no standby. Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
FAKE=tests/fake/fake_exchange.py
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

"$PY" "$FAKE" --port-file "$T/fake.port" --data "$SHARED" --lifetime 200 --parent $$ \
    --rate 400 --max-lines 16000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-spot:ETHUSDT \
    2> "$T/fake.log" &
FPID=$!
PIDS="$PIDS $FPID"
wait_for 60 test -s "$T/fake.port" || { echo "   fake did not start:"; cat "$T/fake.log"; }
P=$(cat "$T/fake.port" 2>/dev/null)
B="http://127.0.0.1:$P"
W="ws://127.0.0.1:$P"
fget() { curl -s --max-time 10 "$B$1"; }

# the stall threshold of the book stream: 20 x 100 ms = 2 s (the stalled one's replacement)
cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT"];
venues = { binance-spot = { rest_url = "$B"; ws_url = "$W"; }; };
health = { stall_factor = 20; warm_standby = true; };
EOF
"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
    > "$T/k.out" 2> "$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
cq() { # EXPR over `ctl connections` is True
    ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]
}
C0='j["connections"][0]'
check "the book becomes live" wait_for 40 cq 'j["books"][0]["state"] == "live"'
check "the book connection has a synced warm standby" wait_for 20 cq "$C0[\"standby\"] == \"synced\""
ctl connections > "$T/c0.json" 2> /dev/null
SNAP0=$(jget "$T/c0.json" "$C0[\"snapshots\"]")
RES0=$(jget "$T/c0.json" "$C0[\"resyncs\"]")
# switches before the stall: 0 on a calm machine; a loaded one may already have switched once
# (the standby led by more than the 100 ms cadence, as designed), so the stall is judged by the
# switches it adds
SWB=$(jget "$T/c0.json" "$C0[\"standby_switches\"]")
check "no switch yet (or one a loaded machine made: the standby led)" test "$SWB" -le 1

# 1. a stall of the oldest connection. If that was the standby, it is reconnected as silent and
# the next stall's oldest is the active one.
switched() { cq "$C0[\"standby_switches\"] >= $SWB + 1"; }
for attempt in 1 2; do
    fget "/_fake/fault?type=stall&secs=60&one=1&path=/stream" > /dev/null
    wait_for 8 switched && break
    wait_for 20 cq "$C0[\"standby\"] == \"synced\""
done
check "stall: the warm standby is switched to" switched
M1=$(jget "$T/c.json" "$C0[\"msgs\"]")
check "stall: data flows on the new active" wait_for 10 cq "$C0[\"msgs\"] > $M1"
check "stall: the book stayed live, no resync, no new REST snapshot" \
    cq "j[\"books\"][0][\"state\"] == \"live\" and $C0[\"resyncs\"] == $RES0 and $C0[\"snapshots\"] == $SNAP0 and $C0[\"gaps\"] == 0"
check "stall: the stalled one reconnected and is a synced standby again" \
    wait_for 30 cq "$C0[\"standby\"] == \"synced\""
check "stall: logged" grep -q "warm standby leads by more than 100 ms: switched" "$T/k.log"

ctl connections > "$T/c1.json" 2> /dev/null
SW1=$(jget "$T/c1.json" "$C0[\"standby_switches\"]")

# 2. the end of the tape: the book equals the fake's
same_book() {
    fget "/_fake/status" > "$T/fs.json" || return 1
    [ "$(jget "$T/fs.json" 'j["tapes"]["binance-spot:BTCUSDT"]["done"]')" = True ] || return 1
    fget "/_fake/book?venue=binance-spot&symbol=BTCUSDT&depth=20" > "$T/fb.json" || return 1
    ctl book BTCUSDT 20 > "$T/ob.json" 2> /dev/null || return 1
    "$PY" - "$T/fb.json" "$T/ob.json" <<'EOF'
import json, sys
from decimal import Decimal
f, o = (json.load(open(p)) for p in sys.argv[1:3])
norm = lambda side: [(Decimal(p), Decimal(q)) for p, q in side]
ok = o["valid"] and all(norm(f[s]) == norm(o[s]) and len(f[s]) == 20 for s in ("bids", "asks"))
sys.exit(0 if ok else 1)
EOF
}
check "the book equals the fake's at the end of the tape (nothing missed or doubled)" \
    wait_for 120 same_book
check "no gap at all" cq "$C0[\"gaps\"] == 0 and $C0[\"standby_switches\"] >= $SW1"
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"

# the key off (the default): no standby in ctl connections (ETHUSDT: a tape of its own)
sed 's/warm_standby = true;//; s/BTCUSDT/ETHUSDT/' "$T/live.cfg" > "$T/off.cfg"
"$K" --headless --config "$T/off.cfg" --db "$T/k2.db" --socket "$T/k.sock" --log "$T/k2.log" \
    > /dev/null 2>&1 &
KPID=$!
PIDS="$PIDS $KPID"
check "off: the book becomes live" wait_for 40 cq 'j["books"][0]["state"] == "live"'
check "off: no standby" cq "\"standby\" not in $C0"
ctl quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
done_tests
