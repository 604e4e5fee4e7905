#!/bin/sh
# Recording, book audit, clock offset and per-venue CAs against the fake exchange (real captures,
# exchange times moved to now):
# - `kestrel --live --record FILE.gz` records the session from its first frame; at the end of the
#   tapes `kestrel --replay FILE.gz` ends with the same books (top 20, exact), the same closed 1s
#   bars and the same indicator values as the live session had; `ctl record start` mid-session
#   writes a REST snapshot line per book so that recording replays to the fake's final books too;
# - the book audit (venues.*.audit_interval = 2 s) counts 0 mismatches on a correct stream and
#   one when the fake answers a REST snapshot that disagrees (fault drift), then resyncs;
# - the clock offset per venue follows the fake's skew (fault skew) and is in ctl connections;
# - `kestrel record --out FILE.gz WATCH...` (the command) records and its file replays to the
#   fake's final book;
# - two venues on two TLS fakes with two different test CAs, each venue its own ca_file.
# Bounded polls only; every process started here is killed at the end.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
PY=$KT_PY

# --rate 40 (about the spot capture's own pace): the tapes stream for 100 s, so they outlast the
# checks on a slow machine; before "the tapes end" the rate goes back to 150 (/_fake/rate)
fake_start fake --lifetime 600 \
    --rate 40 --max-lines 4000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT-SWAP

cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT", "binance-usdm:ETHUSDT", "okx:BTC-USDT-SWAP"];
market = { bar_grace_ms = 0; }; # a bar closes when the data clock passes its end, as a replay's end does
venues = {
  binance-spot = { rest_url = "$B"; ws_url = "$W"; audit_interval = 2; clock_interval = 1; };
  binance-usdm = { rest_url = "$B"; ws_public_url = "$W"; ws_market_url = "$W"; audit_interval = 2; };
  okx = { rest_url = "$B"; ws_url = "$W"; audit_interval = 2; };
};
EOF

# a second app on the same tapes records from mid-session (no audit: the drift fault below is
# meant for the first app's audit)
sed -e 's/ audit_interval = 2;//' -e 's/ clock_interval = 1;//' "$T/live.cfg" > "$T/mid.cfg"

# bad uses of the flag and the command first
"$K" --headless --replay "$SHARED/binance/streams/spot/btcusdt_20240808.gz" --record "$T/x.gz" \
    --db "$T/x.db" > /dev/null 2> "$T/x.err"
check "--record with a replay: exit 2" test $? -eq 2
check "and says why" grep -q "record needs live data" "$T/x.err"
"$K" record --config "$T/live.cfg" > /dev/null 2> "$T/r0.err"
check "kestrel record without --out: exit 2" test $? -eq 2
"$K" record --out "$T/nodir/x.gz" --config "$T/live.cfg" --seconds 2 > /dev/null 2> "$T/r1.err"
check "kestrel record to a directory that does not exist: exit 2" test $? -eq 2
check "and names the file" grep -q "cannot create $T/nodir/x.gz" "$T/r1.err"

ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }
cq() { ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]; }
"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
    --record "$T/rec.gz" > /dev/null 2> "$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
ALL_LIVE='len(j["books"]) == 3 and all(b["state"] == "live" for b in j["books"])'
check "every book becomes live" wait_for 30 cq "$ALL_LIVE"
check "the recording is active from the start" \
    cq 'j["recording"]["active"] and j["recording"]["path"].endswith("rec.gz") and j["recording"]["lines"] > 0'
ctl record start "$T/other.gz" > "$T/again.out" 2>&1
check "a second record start is refused" test $? -ne 0
check "... saying why" grep -q "already recording" "$T/again.out"

# audit: every 2 s, books agree
check "audit: books audited, no mismatch" \
    wait_for 30 cq 'all(b["audits"] >= 2 for b in j["books"]) and all(b["audit_mismatches"] == 0 for b in j["books"])'
# clock offset: the fake's time is moved 2 s ahead
check "clock: the offset is measured on every venue" \
    wait_for 20 cq 'all(c["clock_offset_ms"] is not None and abs(c["clock_offset_ms"]) < 500 for c in j["connections"])'
fget "/_fake/fault?type=skew&ms=2000" > /dev/null
SPOTC='[c for c in j["connections"] if c["venue"] == "binance-spot"][0]'
check "clock: the spot offset follows the skew (clock_interval 1 s)" \
    wait_for 20 cq "1500 < $SPOTC[\"clock_offset_ms\"] < 2500"
fget "/_fake/fault?type=skew&ms=0" > /dev/null
# audit: the fake answers one REST snapshot that disagrees with its stream
fget "/_fake/fault?type=drift&venue=binance-usdm&n=1" > /dev/null
USDM='[b for b in j["books"] if b["venue"] == "binance-usdm"][0]'
check "audit: the mismatch is counted" wait_for 30 cq "$USDM[\"audit_mismatches\"] == 1"
check "audit: the book resyncs and is live again" \
    wait_for 20 cq "$USDM[\"resyncs\"] >= 1 and $USDM[\"state\"] == \"live\""
check "audit: the connection row sums it" \
    cq '[c for c in j["connections"] if c["venue"] == "binance-usdm"][0]["audit_mismatches"] == 1'
check "audit: the others had none" \
    cq 'all(b["audit_mismatches"] == 0 for b in j["books"] if b["venue"] != "binance-usdm")'
ctl status > "$T/s.json"
check "the status document has the audit and clock fields" \
    test "$(jget "$T/s.json" '"clock_offset_ms" in j["connections"]["connections"][0] and "audits" in j["connections"]["books"][0]')" = True

# the second app: live first, then its recording starts (a snapshot line per book at once)
mctl() { "$K" ctl --socket "$T/m.sock" "$@"; }
mq() { mctl connections > "$T/m.json" 2> /dev/null && [ "$(jget "$T/m.json" "$1")" = True ]; }
"$K" --headless --config "$T/mid.cfg" --db "$T/m.db" --socket "$T/m.sock" --log "$T/m.log" \
    > /dev/null 2>&1 &
MPID=$!
PIDS="$PIDS $MPID"
check "mid-session: the second app's books become live" wait_for 30 mq "$ALL_LIVE"
mctl record start "$T/mid.gz" > /dev/null
check "mid-session: ctl record start" \
    mq 'j["recording"]["active"] and j["recording"]["path"].endswith("mid.gz")'
check "mid-session: a snapshot line per book written at once" \
    mq 'j["recording"]["books_pending"] == 0 and j["recording"]["snapshots"] >= 3'
mctl record status > "$T/mst.json"
check "record status answers the same" test "$(jget "$T/mst.json" 'j["active"] and j["snapshots"] >= 3')" = True

tapes_done() {
    fget "/_fake/status" > "$T/fs.json" &&
        [ "$(jget "$T/fs.json" 'len(j["tapes"]) == 3 and all(t["done"] for t in j["tapes"].values())')" = True ]
}
check "the fake streams the rest of the tapes at 150/s" \
    sh -c "curl -s --max-time 10 '$B/_fake/rate?value=150' | grep -q '\"rate\":150'"
check "the tapes end" wait_for 120 tapes_done
# the live bars just before and just after the recording stops: the recording's end is one of the
# two (the 1 s wall tick, recorded too, may close a bar in between)
for s in BTCUSDT ETHUSDT BTC-USDT-SWAP; do
    ctl candles "$s" 1s 1000 > "$T/live_1s_$s.json"
done
ctl record stop > "$T/stop.json"
for s in BTCUSDT ETHUSDT BTC-USDT-SWAP; do
    ctl candles "$s" 1s 1000 > "$T/live2_1s_$s.json"
done
sleep_poll() { # lets the last frames arrive: the books equal the fake's
    fget "/_fake/book?venue=$1&symbol=$2&depth=20" > "$T/fb.json" &&
        ctl book "$2" 20 > "$T/lb.json" 2> /dev/null && same_top "$T/fb.json" "$T/lb.json"
}
same_top() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
from decimal import Decimal
f, o = (json.load(open(p)) for p in sys.argv[1:3])
norm = lambda side: [(Decimal(p), Decimal(q)) for p, q in side]
ok = o.get("valid", True) and all(norm(f[s]) == norm(o[s]) and len(f[s]) == 20 for s in ("bids", "asks"))
sys.exit(0 if ok else 1)
EOF
}
for vs in binance-spot:BTCUSDT binance-usdm:ETHUSDT okx:BTC-USDT-SWAP; do
    check "live: $vs book equals the fake's" wait_for 30 sleep_poll "${vs%%:*}" "${vs#*:}"
done
# the live session's final state, then both recordings closed
for s in BTCUSDT ETHUSDT BTC-USDT-SWAP; do
    ctl book "$s" 20 > "$T/live_book_$s.json"
done
check "record stop closes the recording" \
    test "$(jget "$T/stop.json" 'j["active"] == False and j["lines"] > 0 and j["dropped"] == 0')" = True
mctl record stop > /dev/null
ctl quit > /dev/null
mctl quit > /dev/null
check "the live apps quit" wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null && ! kill -0 $MPID 2>/dev/null"
check "rec.gz is a complete gzip file" gzip -t "$T/rec.gz"
check "every line carries a source tag" \
    sh -c "! zcat '$T/rec.gz' | grep -qvE '^[0-9]+ (binance-spot|binance-usdm|okx|wall)(:[A-Z0-9-]+)? [{]'"
check "rec.gz holds REST snapshot lines for every book" \
    test "$(zcat "$T/rec.gz" | grep -oE '^[0-9]+ [a-z-]+:[A-Z0-9-]+ ' | awk '{print $2}' | sort -u | wc -l)" -eq 3

# replay the recordings: the same books, bars and indicator values
replay_run() { # file sock
    "$K" --headless --replay "$1" --speed 0 --config "$T/live.cfg" --db "$T/$2.db" \
        --socket "$T/$2.sock" --log "$T/$2.log" > /dev/null 2>&1 &
    RP=$!
    PIDS="$PIDS $RP"
}
rq() { "$K" ctl --socket "$T/$1.sock" status > "$T/rs.json" 2> /dev/null &&
    [ "$(jget "$T/rs.json" 'j["finished"]')" = True ]; }
sed -i 's/^source = "live";//' "$T/live.cfg"
replay_run "$T/rec.gz" rp
check "replay of rec.gz finishes" wait_for 60 rq rp
for s in BTCUSDT ETHUSDT BTC-USDT-SWAP; do
    "$K" ctl --socket "$T/rp.sock" book "$s" 20 > "$T/rp_book_$s.json"
    check "replay: $s book equals the live session's" same_top "$T/live_book_$s.json" "$T/rp_book_$s.json"
    "$K" ctl --socket "$T/rp.sock" candles "$s" 1s 1000 > "$T/rp_1s_$s.json"
    check "replay: $s closed 1s bars equal the live session's" "$PY" - "$T/live_1s_$s.json" "$T/rp_1s_$s.json" "$T/live2_1s_$s.json" <<'EOF'
import json, sys
a, b, a2 = (json.load(open(p)) for p in sys.argv[1:4])
if a2["candles"] and b["candles"] and a2["candles"][-1]["open_ms"] == b["candles"][-1]["open_ms"]:
    a = a2
from decimal import Decimal as D  # exact values: the live market may print the instrument's
# decimals (from exchange info), a replay those it learned from the data ("4.358" = "4.35800000")
key = lambda k: (k["open_ms"], D(k["o"]), D(k["h"]), D(k["l"]), D(k["c"]), D(k["volume"]),
                 k["trades"])
la = [key(k) for k in a["candles"]]
lb = [key(k) for k in b["candles"]]
# the same closed bars (the live capture taken at the recording's end)
ok = len(la) >= 10 and lb == la
if not ok:
    d = [(x, y) for x, y in zip(la, lb) if x != y][:2]
    print("   live %d bars, replay %d; first differences (live, replay): %s" % (len(la), len(lb), d))
sys.exit(0 if ok else 1)
EOF
    check "replay: $s 1s indicator values equal the live session's" "$PY" - "$T/live_1s_$s.json" "$T/rp_1s_$s.json" "$T/live2_1s_$s.json" <<'EOF'
import json, sys
a, b, a2 = (json.load(open(p)) for p in sys.argv[1:4])
if a2["candles"] and b["candles"] and a2["candles"][-1]["open_ms"] == b["candles"][-1]["open_ms"]:
    a = a2
# at the same newest closed bar (bar_grace_ms = 0: the live session closed what the replay's end
# closes), the same values, some of them out of their warm-up
la, lb = a["candles"], b["candles"]
ia, ib = a.get("indicators") or {}, b.get("indicators") or {}
ok = la[-1]["open_ms"] == lb[-1]["open_ms"] and ia == ib and sum(v is not None for v in ia.values()) >= 1
if not ok:
    print("   live %s %s / replay %s %s" % (la[-1]["open_ms"], ia, lb[-1]["open_ms"], ib))
sys.exit(0 if ok else 1)
EOF
done
"$K" ctl --socket "$T/rp.sock" quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $RP 2>/dev/null"
replay_run "$T/mid.gz" mp
check "replay of mid.gz (started mid-session) finishes" wait_for 60 rq mp
for vs in binance-spot:BTCUSDT binance-usdm:ETHUSDT okx:BTC-USDT-SWAP; do
    s=${vs#*:}
    "$K" ctl --socket "$T/mp.sock" book "$s" 20 > "$T/mp_book_$s.json"
    fget "/_fake/book?venue=${vs%%:*}&symbol=$s&depth=20" > "$T/fb_$s.json"
    check "mid-session replay: $s book equals the fake's" same_top "$T/fb_$s.json" "$T/mp_book_$s.json"
done
"$K" ctl --socket "$T/mp.sock" quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $RP 2>/dev/null"

# kestrel record (the command) on a fresh tape: ETHUSDT spot
"$K" record --out "$T/cmd.gz" --config "$T/live.cfg" --seconds 6 binance-spot:ETHUSDT \
    > "$T/cmd.out" 2> "$T/cmd.err"
check "kestrel record: exit 0" test $? -eq 0
check "kestrel record: the summary" grep -q "recorded $T/cmd.gz: [1-9][0-9]* lines.* 0 dropped" "$T/cmd.out"
check "kestrel record: the book was live" grep -q "book binance-spot ETHUSDT: live" "$T/cmd.out"
replay_run "$T/cmd.gz" cp
check "replay of the command's file finishes" wait_for 60 rq cp
"$K" ctl --socket "$T/cp.sock" book ETHUSDT 20 > "$T/cp_book.json"
check "its book is valid and not crossed" \
    test "$(jget "$T/cp_book.json" 'j["valid"] and len(j["bids"]) == 20 and float(j["bids"][0][0]) < float(j["asks"][0][0])')" = True
"$K" ctl --socket "$T/cp.sock" quit > /dev/null 2>&1
wait_for 20 sh -c "! kill -0 $RP 2>/dev/null"

# two venues, two TLS fakes, two different CAs: each venue trusts its own ca_file
sh tests/fake/mkca.sh "$T/ca1"
sh tests/fake/mkca.sh "$T/ca2"
for i in 1 2; do
    fake_run tls$i --lifetime 90 \
        --rate 150 --max-lines 6000 --shift-times --preload binance-spot:BTCUSDT \
        --preload okx:BTC-USDT-SWAP --cert "$T/ca$i/server.pem" --key "$T/ca$i/server.key"
    if [ "$i" = 1 ]; then P1=$FP; else P2=$FP; fi
done
two_ca() { # file spot_ca okx_ca
    cat > "$1" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT", "okx:BTC-USDT-SWAP"];
venues = {
  binance-spot = { rest_url = "https://127.0.0.1:$P1"; ws_url = "wss://localhost:$P1"; ca_file = "$2"; };
  okx = { rest_url = "https://127.0.0.1:$P2"; ws_url = "wss://localhost:$P2"; ca_file = "$3"; };
};
EOF
}
two_ca "$T/two.cfg" "$T/ca1/ca.pem" "$T/ca2/ca.pem"
ctl() { "$K" ctl --socket "$T/two.sock" "$@"; }
"$K" --headless --config "$T/two.cfg" --db "$T/two.db" --socket "$T/two.sock" --log "$T/two.log" \
    > /dev/null 2>&1 &
TK=$!
PIDS="$PIDS $TK"
check "two CAs: both books live over wss:// + https://" \
    wait_for 30 cq 'len(j["books"]) == 2 and all(b["state"] == "live" for b in j["books"])'
check "two CAs: every connection open, none failed" \
    cq 'all(c["state"] == "open" and c["failures"] == 0 for c in j["connections"])'
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $TK 2>/dev/null"
# the CAs swapped: each venue refuses the other's server
two_ca "$T/swap.cfg" "$T/ca2/ca.pem" "$T/ca1/ca.pem"
ctl() { "$K" ctl --socket "$T/sw.sock" "$@"; }
"$K" --headless --config "$T/swap.cfg" --db "$T/sw.db" --socket "$T/sw.sock" --log "$T/sw.log" \
    > /dev/null 2>&1 &
SK=$!
PIDS="$PIDS $SK"
check "swapped CAs: both connections fail verification, nothing live" \
    wait_for 30 cq 'all(c["failures"] >= 1 and c["state"] != "open" for c in j["connections"]) and all(b["state"] != "live" for b in j["books"])'
ctl quit > /dev/null
wait_for 20 sh -c "! kill -0 $SK 2>/dev/null"
# kestrel check with the wrong CA on one venue names the TLS step
"$K" check --config "$T/swap.cfg" > "$T/chk.out" 2>&1
check "check with the wrong CA: exit 1" test $? -eq 1
check "check: the TLS step fails and says why" grep -q "^FAIL binance-spot TLS handshake.*certificate" "$T/chk.out"
"$K" check --config "$T/two.cfg" > "$T/chk2.out" 2>&1
check "check with the right CAs: exit 0" test $? -eq 0
done_tests
