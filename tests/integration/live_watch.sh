#!/bin/sh
# The watchlist edited at run time in live mode, against the fake exchange (tests/fake/,
# loopback, real captures with their exchange times moved to now): `symbols add` subscribes the
# symbol at once on a connection of its own (its book syncs from a REST snapshot, trades flow,
# the other book is not touched), `symbols remove` closes it; an unknown symbol is refused with
# the reason; after a restart with the same database the added symbol is subscribed again and a
# removed one of the config's watch list is not (and `symbols` still reports its removal); added
# back it is subscribed again, and after the next restart too. Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

# --rate 50: the tapes stream for 120 s, longer than the restarts below take on a slow machine
# (a book only becomes live on diffs after its snapshot)
fake_start fake --lifetime 320 \
    --rate 50 --max-lines 6000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-spot:ETHUSDT
cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT"];
venues = { binance-spot = { rest_url = "http://127.0.0.1:$P"; ws_url = "ws://127.0.0.1:$P"; }; };
EOF
run() {
    "$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/k.sock" --log "$T/k.log" \
        > /dev/null 2>> "$T/k.err" &
    KPID=$!
    PIDS="$PIDS $KPID"
}
cq() { ctl connections > "$T/c.json" 2> /dev/null && [ "$(jget "$T/c.json" "$1")" = True ]; }
sq() { ctl symbols > "$T/s.json" 2> /dev/null && [ "$(jget "$T/s.json" "$1")" = True ]; }
quit() { ctl quit > /dev/null; wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"; wait "$KPID"; }

run
check "the watched book becomes live" wait_for 30 cq 'len(j["books"]) == 1 and j["books"][0]["state"] == "live"'
ctl symbols add SOLUSDT > "$T/sol.json" 2>&1
check "an unknown symbol is refused with the reason" \
    grep -q "SOLUSDT is not a known binance-spot / binance-usdm instrument" "$T/sol.json"
ctl symbols add ETHUSDT > "$T/add.json"
check "symbols add ETHUSDT: accepted" eq "$(jget "$T/add.json" 'j["added"]')" ETHUSDT
check "it is subscribed on a connection of its own" \
    wait_for 10 cq 'len(j["connections"]) == 2 and "ethusdt@depth" in j["connections"][1]["url"] and "btcusdt" not in j["connections"][1]["url"]'
check "its book syncs from a REST snapshot" \
    wait_for 30 cq '[b for b in j["books"] if b["symbol"] == "ETHUSDT"][0]["state"] == "live"'
check "its trades flow" wait_for 20 sq '[s["data"] for s in j["symbols"] if s["symbol"] == "ETHUSDT"] == [True]'
check "the BTCUSDT connection was not touched" \
    cq 'j["connections"][0]["reconnects"] == 0 and j["books"][0]["state"] == "live"'
ctl symbols add ETHUSDT > "$T/dup.json" 2>&1
check "adding it again says it is watched" grep -q "already on the watchlist" "$T/dup.json"
ctl symbols remove ETHUSDT > /dev/null
check "symbols remove closes its connection" \
    wait_for 10 cq '[c["state"] for c in j["connections"]][1] in ("closed", "idle")'
check "and it leaves the watchlist" sq '[s["symbol"] for s in j["symbols"]] == ["BTCUSDT"]'
ctl symbols add ETHUSDT > /dev/null
check "added again: subscribed afresh" \
    wait_for 30 cq '[b for b in j["books"] if b["symbol"] == "ETHUSDT"][0]["state"] == "live"'
ctl symbols remove BTCUSDT > /dev/null
check "a config symbol can be removed from the watchlist" \
    sq '[s["symbol"] for s in j["symbols"]] == ["ETHUSDT"] and j["removed"] == ["binance-spot:BTCUSDT"]'
quit
check "quits cleanly (exit 0)" test $? -eq 0

# restart: ETHUSDT (added) is subscribed, BTCUSDT (removed) is not
run
check "after a restart the added symbol is subscribed" \
    wait_for 30 cq 'len(j["books"]) == 1 and j["books"][0]["symbol"] == "ETHUSDT" and j["books"][0]["state"] == "live"'
check "and the removed one is not" cq 'all("btcusdt" not in c["url"] for c in j["connections"])'
check "ctl symbols still reports the stored removal" \
    sq '[s["symbol"] for s in j["symbols"]] == ["ETHUSDT"] and j["removed"] == ["binance-spot:BTCUSDT"]'
# the config symbol added back: subscribed now, and at the next start (the removal is undone)
ctl symbols add BTCUSDT > "$T/back.json"
check "symbols add brings the removed config symbol back" eq "$(jget "$T/back.json" 'j["added"]')" BTCUSDT
check "it is watched again (its book is back in the connections)" \
    wait_for 30 cq '[b["symbol"] for b in j["books"] if b["symbol"] == "BTCUSDT"] == ["BTCUSDT"]'
check "no removal is left" sq 'j["removed"] == []'
quit
run
check "after the next restart both are subscribed" \
    wait_for 30 cq 'sorted(b["symbol"] for b in j["books"]) == ["BTCUSDT", "ETHUSDT"] and any("btcusdt@" in c["url"] for c in j["connections"]) and any("ethusdt@" in c["url"] for c in j["connections"])'
check "and both are on the watchlist, nothing removed" \
    sq 'sorted(s["symbol"] for s in j["symbols"]) == ["BTCUSDT", "ETHUSDT"] and j["removed"] == []'
quit
check "no errors logged" sh -c "! grep -q ' ERROR ' '$T/k.log'"
done_tests
