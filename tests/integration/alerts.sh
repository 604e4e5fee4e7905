#!/bin/sh
# Alerts through the binary on the real bundled replay: with a 10 s horizon and a signal every
# second the engine has enough scored signals in the 11 minutes for its health score and its
# self-pause rule (real data: the ensemble does not beat always-HOLD, so it pauses itself).
# Each alert is in `kestrel ctl alerts` (history, counters) and the log, and alerts.command
# gets it as one JSON line on stdin (kind, symbol, time, text); a rate limit suppresses and
# counts the alerts inside its window; a command that hangs never holds the replay.
. tests/lib.sh
K="$KESTREL_BIN"
finished() { "$K" ctl --socket "$1" status 2>/dev/null | grep -q '"finished":true'; }
cat > "$T/a.cfg" <<CFG
engine: { horizon = 10; signal_interval = 1; };
alerts: { command = "cat >> $T/alerts.jsonl"; rate_limit = 0; bell = false; };
CFG
"$K" --headless --speed 0 --config "$T/a.cfg" --db "$T/a.db" --socket "$T/a.sock" \
    --log "$T/a.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "the replay ends" wait_for 60 finished "$T/a.sock"
"$K" ctl --socket "$T/a.sock" alerts > "$T/al.json"
check "ctl alerts: the engine raised alerts (health_low, paused) with symbol and data time" python3 -c '
import json,sys
j=json.load(open(sys.argv[1])); k=[a["kind"] for a in j["alerts"]]
assert "paused" in k and "health_low" in k, k
assert all(a["symbol"]=="BTCUSDT" and a["time"].startswith("2024-08-") for a in j["alerts"] if a["kind"] in ("paused","health_low"))
assert j["raised"]==len(j["alerts"]) and j["commands_run"]==j["raised"], j' "$T/al.json"
lines() { [ "$(wc -l < "$T/alerts.jsonl" 2>/dev/null || echo 0)" -ge "$1" ]; }
nal=$(jget "$T/al.json" 'j["commands_run"]')
check "alerts.command got every alert" wait_for 10 lines "$nal"
check "each line is the alert as JSON (kind, symbol, time, text, suppressed)" python3 -c '
import json,sys
got=[json.loads(l) for l in open(sys.argv[1])]
want=json.load(open(sys.argv[2]))["alerts"]
assert sorted(g["seq"] for g in got)==[a["seq"] for a in want], (got,want)
for g in got:
    for k in "kind symbol time text suppressed".split(): assert k in g, k' "$T/alerts.jsonl" "$T/al.json"
kill -TERM $pid; wait $pid
check "the log has a WARN per alert" test "$(grep -c 'WARN  alert ' "$T/a.log")" -eq "$nal"
# a rate limit of an hour: the first alert runs the command, the rest are suppressed (counted)
cat > "$T/r.cfg" <<CFG
engine: { horizon = 10; signal_interval = 1; };
alerts: { command = "cat >> $T/r.jsonl"; rate_limit = 3600; };
CFG
"$K" --headless --speed 0 --config "$T/r.cfg" --db "$T/r.db" --socket "$T/r.sock" \
    --log "$T/r.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "rate-limited run: the replay ends" wait_for 60 finished "$T/r.sock"
"$K" ctl --socket "$T/r.sock" alerts > "$T/ra.json"
check "rate limit: one command, the others suppressed and counted" python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
assert j["raised"]>=2 and j["commands_run"]==1 and j["commands_suppressed"]==j["raised"]-1, j' "$T/ra.json"
kill -TERM $pid; wait $pid
# a command that never ends (and never reads): the replay is not held
cat > "$T/h.cfg" <<CFG
engine: { horizon = 10; signal_interval = 1; };
alerts: { command = "echo \$\$ >> $T/h.pids; exec sleep 300"; rate_limit = 0; };
CFG
timeout 60 "$K" --headless --exit-at-end --speed 0 --config "$T/h.cfg" --db "$T/h.db" \
    --socket "$T/h.sock" --log "$T/h.log" --replay data/replay/btcusdt_20240808.gz > "$T/h.json" 2>/dev/null
check "a hanging alerts.command does not hold the replay (exit 0)" test $? -eq 0
check "... and the engine still made its signals" test "$(jget "$T/h.json" 'j["trading"]["signals"]')" -gt 300
check "... while its commands were still running" test -s "$T/h.pids"
for p in $(cat "$T/h.pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
# a daily-loss pause: 2% taker fees and a 0.1% daily loss limit, one paper buy over the control
# socket: the risk engine stops new entries and the alert carries its rule and the numbers
cat > "$T/d.cfg" <<CFG
fees: { binance-spot: { maker = 2; taker = 2; }; };
risk: { daily_loss_pct = 0.1; };
alerts: { rate_limit = 0; bell = false; };
CFG
"$K" --headless --speed 1 --config "$T/d.cfg" --db "$T/d.db" --socket "$T/d.sock" \
    --log "$T/d.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
live() { [ "$("$K" ctl --socket "$T/d.sock" status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["symbols"][0]["book_state"])' 2>/dev/null)" = live ]; }
check "daily loss: the book syncs" wait_for 20 live
"$K" ctl --socket "$T/d.sock" order BTCUSDT buy 0.01 > /dev/null 2>&1
dl() { "$K" ctl --socket "$T/d.sock" alerts 2>/dev/null | grep -q '"daily_loss"'; }
check "daily loss: a daily_loss alert is raised" wait_for 30 dl
"$K" ctl --socket "$T/d.sock" alerts > "$T/dl.json"
check "daily loss: its text is the risk rule with the numbers" python3 -c '
import json,re,sys
a=[x for x in json.load(open(sys.argv[1]))["alerts"] if x["kind"]=="daily_loss"]
assert len(a)==1, a
t=a[0]["text"]
assert t.startswith("risk state REDUCING (was ACTIVE): daily loss "), t
assert re.search(r"daily loss [0-9.]+ >= 0\.1% of 10000(\.0+)?: no new entries until the next UTC day", t), t' "$T/dl.json"
check "daily loss: the log has it" grep -q "WARN  alert daily_loss.*daily loss .* >= 0.1% of" "$T/d.log"
kill -TERM $pid; wait $pid
done_tests
