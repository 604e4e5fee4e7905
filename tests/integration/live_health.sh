#!/bin/sh
# Live feed health and failover end to end against the fake exchange (tests/fake/, loopback, the
# real captures with their times moved to now), `kestrel --headless --live`, read through the
# control socket. A stall (the fake keeps the socket open and sends nothing) is detected after
# health.stall_factor x the stream's cadence and the connection replaced: state "stalled", then
# open again, data_stalls counted, the replacement's first data within 2x the threshold of the
# last data before the stall; the stall and the recovery are alerts (ctl alerts, and the
# alerts.command gets them as JSON). A primary that stays stalled (the fake's sticky stall)
# fails over to its backup after health.failover_after_s (ctl connections "failover", the
# banner, ctl focus "shown", an alert), and back after health.failback_after_s once it is
# healthy again. A REST 429 + Retry-After pauses the venue's REST, with the time left in the
# status (and the banner). Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

fake_start fake --lifetime 200 \
    --rate 200 --max-lines 40000 --shift-times --preload binance-spot:BTCUSDT \
    --preload binance-usdm:ETHUSDT --preload okx:BTC-USDT

# stall threshold of a book stream: 20 x 100 ms = 2 s (a loaded machine may pause the fake for
# a second); failover after 2 s unhealthy, back after 3 s healthy
cat > "$T/live.cfg" <<EOF
source = "live";
watch = ["okx:BTC-USDT@binance-spot:BTCUSDT", "binance-usdm:ETHUSDT"];
venues = {
  binance-spot = { rest_url = "$B"; ws_url = "$W"; };
  binance-usdm = { rest_url = "$B"; ws_public_url = "$W"; ws_market_url = "$W"; };
  okx = { rest_url = "$B"; ws_url = "$W"; };
};
health = { stall_factor = 20; failover_after_s = 2; failback_after_s = 3; alert_interval_s = 60; };
alerts = { bell = false; command = "cat >> $T/alerts.jsonl"; rate_limit = 0; };
EOF

# the watch syntax: a backup must differ from its primary; a bad backup names itself
printf 'watch = ["okx:BTC-USDT@nope:X"];\n' > "$T/badbk.cfg"
"$K" --headless --config "$T/badbk.cfg" --db "$T/w.db" > /dev/null 2> "$T/badbk.err"
check "config: a backup with an unknown venue: exit 2" test $? -eq 2
check "config: and says it is the backup" \
    grep -q "badbk.cfg:1: watch\[0\]: backup: unknown venue 'nope'" "$T/badbk.err"
"$K" --headless --live --watch okx:BTC-USDT@okx:BTC-USDT --db "$T/w.db" --socket "$T/w.sock" \
    > /dev/null 2> "$T/same.err"
check "--watch: a backup equal to its primary: exit 2" test $? -eq 2
check "--watch: and says why" grep -q "the backup must be another venue or symbol" "$T/same.err"

"$K" check --config "$T/live.cfg" > "$T/check.out" 2>&1
check "kestrel check: the backup's venue is checked too (REST ping of all three)" \
    test "$(grep -c '^ok .*REST ping' "$T/check.out")" -eq 3
check "kestrel check: every book syncs, the backup's included" \
    test "$(grep -c '^ok .*book sync' "$T/check.out")" -eq 3

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
aq() { # EXPR over `ctl alerts` is True
    ctl alerts > "$T/a.json" 2> /dev/null && [ "$(jget "$T/a.json" "$1")" = True ]
}
fq() { # EXPR over `ctl focus okx:BTC-USDT` is True
    ctl focus okx:BTC-USDT > "$T/f.json" 2> /dev/null && [ "$(jget "$T/f.json" "$1")" = True ]
}
ALL_LIVE='len(j["books"]) == 3 and all(b["state"] == "live" for b in j["books"])'
check "every book becomes live (primary and backup both subscribed)" wait_for 40 cq "$ALL_LIVE"
check "five connections open (OKX candles on /ws/v5/business)" \
    cq 'len(j["connections"]) == 5 and all(c["state"] == "open" for c in j["connections"])'
# a primary slower to sync than its backup is shown from the backup at start (failover_after_s
# 2 here) until it has been healthy for failback_after_s: the pair settles on its primary
check "one failover pair, on its primary" wait_for 20 \
    cq '[(f["primary"], f["backup"], f["active"]) for f in j["failover"]] == [("okx:BTC-USDT", "binance-spot:BTCUSDT", "primary")]'
check "healthy: entries allowed on the primary" cq 'j["failover"][0]["entries"] is True'
# trades and candles: 20 x max(1 s, the observed gap) (the fake's forming candles come every 2 s)
check "thresholds: 20 x 100 ms for book streams, 20 x >= 1 s for trades and candles" \
    cq 'sorted(c["stall_after_ms"] for c in j["connections"] if c["books"]) == [2000, 2000, 2000] and all(20000 <= c["stall_after_ms"] <= 60000 for c in j["connections"] if not c["books"])'
check "no stall, no banner while healthy" \
    cq 'all(c["data_stalls"] == 0 for c in j["connections"]) and j["banner"] == []'
check "the panes show the primary" wait_for 10 fq 'j["shown"] == "okx:BTC-USDT"'

# 1. a stall on the USD-M book stream (/public): detected, replaced, counted, alerted
UP='[c for c in j["connections"] if c["label"] == "binance-usdm public"][0]'
fget "/_fake/fault?type=stall&venue=binance-usdm&path=/public&secs=60" > /dev/null
check "stall: detected (data_stalls counted)" wait_for 15 cq "$UP[\"data_stalls\"] >= 1"
check "stall: replaced, open and delivering again" \
    wait_for 15 cq "$UP[\"state\"] == \"open\" and $UP[\"last_replace_ms\"] is not None"
check "stall: replaced within 2x the threshold of the last data" \
    cq "$UP[\"last_replace_ms\"] <= 2 * $UP[\"stall_after_ms\"]"
echo "   stall: last data -> replacement's first data: $(jget "$T/c.json" "$UP[\"last_replace_ms\"]") ms (threshold $(jget "$T/c.json" "$UP[\"stall_after_ms\"]") ms)"
check "stall: the USD-M book is live again" \
    wait_for 20 cq '[b for b in j["books"] if b["venue"] == "binance-usdm"][0]["state"] == "live"'
check "stall: the /market connection was not touched" \
    cq '[c for c in j["connections"] if c["label"] == "binance-usdm market"][0]["stalls"] == 0'
check "stall: an alert for the stall and one for the recovery" \
    wait_for 10 aq '[a["kind"] for a in j["alerts"] if a["kind"].startswith("feed")] == ["feed_stall", "feed_recovered"]'
check "stall: the alert names the connection" \
    aq 'any("binance-usdm public" in a["text"] for a in j["alerts"] if a["kind"] == "feed_stall")'
check "stall: alerts.command got both as JSON" \
    wait_for 10 sh -c "grep -c '\"kind\":\"feed_' '$T/alerts.jsonl' | grep -qx 2"

# 2. the primary stays stalled (every new connection too): failover to the backup, and back
OK_='[c for c in j["connections"] if c["venue"] == "okx"][0]'
# counts so far (a primary slower than its backup at start already failed over once and back)
ctl connections > "$T/c0.json"
F0=$(jget "$T/c0.json" 'j["failover"][0]["failovers"]')
B0=$(jget "$T/c0.json" 'j["failover"][0]["failbacks"]')
fget "/_fake/fault?type=stall&venue=okx&secs=120&sticky=1" > /dev/null
check "sticky stall: the OKX connection is stalled" \
    wait_for 15 cq "$OK_[\"state\"] == \"stalled\" and \"STALLED okx books\" in j[\"banner\"]"
check "failover: the panes switch to the backup" \
    wait_for 15 cq "j['failover'][0]['active'] == 'backup' and j['failover'][0]['failovers'] == $F0 + 1"
check "failover: the banner says so" \
    cq '"FAILOVER okx:BTC-USDT -> binance-spot:BTCUSDT" in j["banner"]'
check "failover: ctl focus shows the backup for the primary" \
    fq 'j["symbol"] == "BTC-USDT" and j["shown"] == "binance-spot:BTCUSDT"'
check "failover: the status document has it too" \
    sq 'j["connections"]["failover"][0]["active"] == "backup"'
check "failover: an alert" wait_for 10 aq 'any(a["kind"] == "failover" for a in j["alerts"])'
check "failover: auto-trading takes no new entry on the primary" cq 'j["failover"][0]["entries"] is False'
OKS='[c for c in j["connections"] if c["venue"] == "okx"][0]["data_stalls"]'
check "failover: the primary keeps being retried (several stalls)" wait_for 20 cq "$OKS >= 2"
# the sticky stall silences both OKX connections (books, candles): one alert each, however often
# they stall again inside health.alert_interval_s
check "failover: stall alerts are rate limited (one per connection per 60 s)" \
    aq 'all(len([a for a in j["alerts"] if a["kind"] == "feed_stall" and l in a["text"]]) == 1 for l in ("binance-usdm public", "okx books"))'
fget "/_fake/fault?type=unstall" > /dev/null
check "unstall: the primary's book is live again" \
    wait_for 40 cq '[b for b in j["books"] if b["venue"] == "okx"][0]["state"] == "live"'
check "failback: not at once (hysteresis: 3 s healthy first)" \
    cq 'j["failover"][0]["active"] == "backup" and j["failover"][0]["primary_ok"]'
check "failback: back on the primary" \
    wait_for 20 cq "j['failover'][0]['active'] == 'primary' and j['failover'][0]['failbacks'] == $B0 + 1"
check "failback: the panes show the primary" fq 'j["shown"] == "okx:BTC-USDT"'
check "failback: entries allowed again" cq 'j["failover"][0]["entries"] is True'
check "failback: an alert" wait_for 10 aq 'any(a["kind"] == "failback" for a in j["alerts"])'
check "failback: the recovery of the OKX feed is alerted" \
    aq 'any(a["kind"] == "feed_recovered" and "okx books" in a["text"] for a in j["alerts"])'

# 3. REST 429 + Retry-After: the venue's REST pauses, the time left is shown
fget "/_fake/fault?type=http&status=429&n=1&secs=6&venue=binance-usdm" > /dev/null
fget "/_fake/fault?type=gap&venue=binance-usdm&n=1" > /dev/null
RU='j["rest"]["binance-usdm"]'
check "429: the USD-M REST is paused with the time left" \
    wait_for 20 cq "$RU[\"paused\"] and 0 < $RU[\"paused_ms\"] <= 7000 and $RU[\"status_429\"] == 1"
check "429: the banner shows the pause" \
    cq 'any(b.startswith("REST PAUSED binance-usdm ") and b.endswith("s") for b in j["banner"])'
check "429: the pause ends and the book resyncs" \
    wait_for 30 cq "not $RU[\"paused\"] and [b for b in j[\"books\"] if b[\"venue\"] == \"binance-usdm\"][0][\"state\"] == \"live\""
check "healthy again: no banner" wait_for 20 cq 'j["banner"] == []'

ctl quit > /dev/null
check "quits cleanly" wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID"
check "exit status 0" test $? -eq 0
check "no errors logged" sh -c "! grep -q ' ERROR ' '$T/k.log'"
done_tests
