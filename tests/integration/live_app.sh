#!/bin/sh
# kestrel --live end to end against the fake exchange (tests/fake/, loopback, real captures with
# their exchange times moved to now): a config with watch and venues.* pointing at the fake,
# `kestrel --headless`, then through the control socket: every book becomes live, trades and
# bars flow, the status says LIVE; a dropped connection reconnects and its book resyncs, a
# sequence gap is seen and resynced; at the end of the tapes every book equals the fake's
# authoritative book. Refused: a plain ws:// URL to a non-loopback host (exit 2, clear message),
# bad watch entries and venues.* values (file:line, exit 2); unknown venues.* keys warn with a
# did-you-mean. TLS with a test CA (and refused without it). Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
PY=$KT_PY
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

# --rate 50: the 9000-line tapes last 180 s, so they are still streaming when the checks run on
# a slow or loaded machine (at 200/s they ended after 45 s and everything after failed); the
# last step sets the rate to flat out (/_fake/rate) to reach the tapes' ends
fake_start fake --lifetime 600 \
    --rate 50 --max-lines 9000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT-SWAP

cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT", "binance-usdm:ETHUSDT", "okx:BTC-USDT-SWAP"];
venues = {
  binance-spot = { network = "mainnet"; rest_url = "$B"; ws_url = "$W/"; lifetime = 4; };
  binance-usdm = { rest_url = "$B"; ws_public_url = "$W"; ws_market_url = "$W"; };
  okx = { rest_url = "$B"; ws_url = "$W"; };
};
EOF

# refusals first (nothing connects)
sed "s|ws_url = \"$W/\"|ws_url = \"ws://10.0.0.1:9443\"|" "$T/live.cfg" > "$T/insecure.cfg"
"$K" --headless --config "$T/insecure.cfg" --db "$T/i.db" --socket "$T/i.sock" \
    > /dev/null 2> "$T/insecure.err"
check "plain ws:// to a non-loopback host: exit 2" test $? -eq 2
check "the message names the key and the host" \
    grep -q "venues.binance-spot.ws_url.*10.0.0.1.*wss://" "$T/insecure.err"
check "nothing was created" test ! -e "$T/i.db"
"$K" --headless --live --watch binance-spot:BTCUSDT,nope:X --db "$T/w.db" --socket "$T/w.sock" \
    > /dev/null 2> "$T/watch.err"
check "--watch with an unknown venue: exit 2" test $? -eq 2
check "and says which" grep -q "unknown venue 'nope'" "$T/watch.err"
printf 'watch = ["binance-spot"];\n' > "$T/badwatch.cfg"
"$K" --headless --config "$T/badwatch.cfg" --db "$T/w.db" > /dev/null 2> "$T/badwatch.err"
check "config watch without a symbol: exit 2" test $? -eq 2
check "with file:line" grep -q "badwatch.cfg:1: watch\[0\]" "$T/badwatch.err"
printf 'venues = { okx = { network = "testnet"; }; };\n' > "$T/badnet.cfg"
"$K" --headless --config "$T/badnet.cfg" --db "$T/w.db" > /dev/null 2> "$T/badnet.err"
check "OKX network testnet refused (exit 2)" test $? -eq 2
check "expected mainnet or demo" grep -q "badnet.cfg:1: venues.okx.network.*mainnet or demo" \
    "$T/badnet.err"
printf 'source = "live";\nvenues = { binance-spot = { ws_ulr = "x"; }; };\n' > "$T/typo.cfg"
"$K" --headless --config "$T/typo.cfg" --db "$T/w.db" --socket "$T/w.sock" > /dev/null \
    2> "$T/typo.err"
check "a venues.* typo warns with did-you-mean" \
    grep -q "typo.cfg:2: unknown key 'venues.binance-spot.ws_ulr' ignored (did you mean 'venues.binance-spot.ws_url'?)" "$T/typo.err"
check "an empty watch list is refused (exit 2)" grep -q "watch list is empty" "$T/typo.err"

# kestrel check: the step-by-step self-test against the fake (pass), and against a closed port
"$K" check --config "$T/live.cfg" > "$T/check.out" 2>&1
check "check: exit 0 against the fake" test $? -eq 0
check "check: REST ping and clock offset per venue" \
    test "$(grep -c '^ok .*\(REST ping\|clock offset\)' "$T/check.out")" -eq 6
check "check: first message on each of the 5 websockets" \
    test "$(grep -c '^ok .*websocket: first message' "$T/check.out")" -eq 5
check "check: every book syncs" test "$(grep -c '^ok .*book sync' "$T/check.out")" -eq 3
printf 'venues = { binance-spot = { rest_url = "http://127.0.0.1:1"; ws_url = "ws://127.0.0.1:1"; }; };\n' \
    > "$T/closed.cfg"
"$K" check --config "$T/closed.cfg" --watch binance-spot:BTCUSDT > "$T/closed.out" 2>&1
check "check: exit 1 against a closed port" test $? -eq 1
check "check: says which step failed and why" \
    grep -q "^FAIL binance-spot REST ping.*127.0.0.1:1.*network" "$T/closed.out"
"$K" check --config "$T/insecure.cfg" > "$T/cins.out" 2>&1
check "check: a refused URL is exit 2" test $? -eq 2

# the live app
"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
    > "$T/k.out" 2> "$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
cq() { # EXPR over `ctl connections` is True
    ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]
}
sq() { # EXPR over `ctl status` is True
    ctl status > "$T/s.json" 2> /dev/null && [ "$(jget "$T/s.json" "$1")" = True ]
}
ALL_LIVE='len(j["books"]) == 3 and all(b["state"] == "live" for b in j["books"])'
check "every book becomes live" wait_for 30 cq "$ALL_LIVE"
check "five connections open (USD-M: /public and /market; OKX: /public and /business)" \
    cq 'len(j["connections"]) == 5 and all(c["state"] == "open" for c in j["connections"])'
check "USD-M depth on /public, trades on /market" \
    cq '[c["url"].split("/")[3] for c in j["connections"] if c["venue"] == "binance-usdm"] == ["public", "market"]'
check "books from REST snapshots" cq 'all(b["snapshots"] >= 1 for b in j["books"])'
check "status source is live" sq 'j["source"] == "live"'
check "status has the connections section" sq 'len(j["connections"]["connections"]) == 5'
check "trades flow on every symbol" wait_for 20 sq 'all(s["trades"] > 0 for s in j["symbols"])'
check "1s bars close on every symbol" wait_for 20 sq 'all(s["candles"]["1s"] > 0 for s in j["symbols"])'
# (a candles connection carries a few messages a minute at this rate: its msgs_per_s rounds to 0)
check "messages per second and latency are measured" \
    wait_for 20 cq 'all((c["msgs_per_s"] > 0 or c["channel"] != "books") and c["msgs"] > 0 and c["latency_ms"] is not None for c in j["connections"] if c["venue"] != "binance-spot")'
check "nothing dropped as bad time or malformed" sq 'j["ingest"]["bad_time"] == 0 and j["ingest"]["malformed"] == 0'

# a dropped connection: reconnect, the book resyncs from a new snapshot
fget "/_fake/fault?type=drop&venue=binance-spot" > /dev/null
SPOT='[c for c in j["connections"] if c["venue"] == "binance-spot"][0]'
check "drop: the spot connection reconnects" wait_for 20 cq "$SPOT[\"reconnects\"] >= 1"
check "drop: its book resyncs and is live again" \
    wait_for 20 cq "$SPOT[\"resyncs\"] >= 1 and $SPOT[\"books_live\"] == 1"
check "drop: the others were not touched" \
    cq 'all(c["reconnects"] == 0 for c in j["connections"] if c["venue"] != "binance-spot")'

# a sequence gap on USD-M (a diff applied by the fake but not sent): seen, resynced
fget "/_fake/fault?type=gap&venue=binance-usdm&n=1" > /dev/null
USDM='[b for b in j["books"] if b["venue"] == "binance-usdm"][0]'
check "gap: seen on the USD-M book" wait_for 20 cq "$USDM[\"gaps\"] >= 1"
check "gap: resynced and live again" \
    wait_for 20 cq "$USDM[\"resyncs\"] >= 1 and $USDM[\"state\"] == \"live\""
check "gap: the status counts it too" \
    sq '[s for s in j["symbols"] if s["venue"] == "binance-usdm"][0]["gaps"] >= 1'

# make-before-break rotation (venues.binance-spot.lifetime = 4 s instead of 23 h): no gap
check "rotation: the spot connection rotates" wait_for 30 cq "$SPOT[\"rotations\"] >= 2"
check "rotation: without a gap, book live" \
    cq "$SPOT[\"gaps\"] == 0 and $SPOT[\"books_live\"] == 1 and $SPOT[\"state\"] == \"open\""

# the tapes end: every book equals the fake's authoritative one (top 20 levels, exact)
same_book() { # venue symbol
    fget "/_fake/status" > "$T/fs.json" || return 1
    [ "$(jget "$T/fs.json" "j[\"tapes\"][\"$1:$2\"][\"done\"]")" = True ] || return 1
    fget "/_fake/book?venue=$1&symbol=$2&depth=20" > "$T/fb.json" || return 1
    ctl book "$2" 20 > "$T/ob.json" 2> /dev/null || return 1
    "$PY" - "$T/fb.json" "$T/ob.json" <<'EOF'
import json, sys
from decimal import Decimal
f, o = (json.load(open(p)) for p in sys.argv[1:3])
norm = lambda side: [(Decimal(p), Decimal(q)) for p, q in side]
ok = o["valid"] and all(norm(f[s]) == norm(o[s]) and len(f[s]) == 20 for s in ("bids", "asks"))
sys.exit(0 if ok else 1)
EOF
}
check "the fake streams the rest of the tapes flat out" \
    sh -c "curl -s --max-time 10 '$B/_fake/rate?value=0' | grep -q '\"rate\":0'"
check "binance-spot BTCUSDT book equals the fake's" wait_for 90 same_book binance-spot BTCUSDT
check "binance-usdm ETHUSDT book equals the fake's" wait_for 30 same_book binance-usdm ETHUSDT
check "okx BTC-USDT-SWAP book equals the fake's" wait_for 30 same_book okx BTC-USDT-SWAP

ctl quit > /dev/null
check "quits cleanly" wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID"
check "exit status 0" test $? -eq 0
check "no errors logged" sh -c "! grep -q ' ERROR ' '$T/k.log'"
# TLS: OKX over wss:// + https:// with a test CA made now (venues.okx.ca_file); without the CA
# the connection is refused (verification is never off) and nothing is shown as live
sh tests/fake/mkca.sh "$T/ca"
fake_run tls --lifetime 600 \
    --rate 200 --max-lines 3000 --shift-times --preload okx:BTC-USDT-SWAP \
    --cert "$T/ca/server.pem" --key "$T/ca/server.key"
TP=$FP
tls_cfg() { # file ca
    cat > "$1" <<EOF
source = "live";
watch = ["okx:BTC-USDT-SWAP"];
venues = { okx = { rest_url = "https://127.0.0.1:$TP"; ws_url = "wss://localhost:$TP";
                   ca_file = "$2"; }; };
EOF
}
tls_cfg "$T/tls.cfg" "$T/ca/ca.pem"
tls_cfg "$T/noca.cfg" ""
ctl() { "$K" ctl --socket "$T/t.sock" "$@"; }
"$K" --headless --config "$T/tls.cfg" --db "$T/t.db" --socket "$T/t.sock" --log "$T/t.log" \
    > /dev/null 2>&1 &
TK=$!
PIDS="$PIDS $TK"
check "TLS: the OKX book becomes live over wss:// + https://" \
    wait_for 30 cq 'j["books"][0]["state"] == "live" and j["connections"][0]["url"].startswith("wss://")'
check "TLS: trades flow" wait_for 20 sq 'j["symbols"][0]["trades"] > 0'
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $TK 2>/dev/null"
ctl() { "$K" ctl --socket "$T/n.sock" "$@"; }
"$K" --headless --config "$T/noca.cfg" --db "$T/n.db" --socket "$T/n.sock" --log "$T/n.log" \
    > /dev/null 2>&1 &
NK=$!
PIDS="$PIDS $NK"
check "TLS without the CA: the connection fails (verification on)" \
    wait_for 30 cq 'j["connections"][0]["failures"] >= 1 and j["connections"][0]["state"] != "open"'
check "TLS without the CA: the book is not shown as live" cq 'j["books"][0]["state"] != "live"'
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $NK 2>/dev/null"
done_tests
