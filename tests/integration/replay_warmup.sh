#!/bin/sh
# A replay's warm-up is asynchronous and still deterministic (issue 12): the history (a klines
# file, or stored candles) is read on the store's writer thread, and the replay holds its next
# line until the history is fed (runner_warmups_pending), so
#  1. the same replay with a klines-file warm-up twice gives the same signals (the stored rows
#     and the runner's signal digest), and every one of the 1440 history bars was learned from;
#  2. a seek forward and back (a re-run from the start, warming up again) ends with the same
#     signal digest as the uninterrupted run;
#  3. the next day's replay warming up on the first run's stored candles gives the same signals
#     twice (two copies of that database);
#  4. the next day's replay restoring a stored model state reads it on the writer thread too
#     (the replay holds its next line meanwhile) and gives the same signals on two copies;
# and ctl metrics' warmup says what the symbol's live data did meanwhile (held, applied, dropped).
. tests/lib.sh
K="$KESTREL_BIN"
F=data/replay/btcusdt_20240808.gz
LEAN="$SHARED/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv"
cat > "$T/k.cfg" <<CFG
engine: { horizon = 60; signal_interval = 5; warmup = "$LEAN"; };
CFG
ctl() { s=$1; shift; "$K" ctl --socket "$T/$s.sock" "$@"; }
st() { ctl "$1" status > "$T/$1.st" && jget "$T/$1.st" "$2"; }
sigs() { sqlite3 "$1" "select venue, symbol, time_ms, source, action, printf('%.12f %.12f %.12f %.12f', p_sell, p_hold, p_buy, confidence) from signals order by time_ms, id"; }

for n in 1 2; do
    "$K" --headless --exit-at-end --speed 0 --config "$T/k.cfg" --db "$T/k$n.db" \
        --socket "$T/k$n.sock" --log "$T/k$n.log" --replay "$F" > "$T/k$n.json" 2> "$T/k$n.err"
    check "klines warm-up run $n exits 0" test $? -eq 0
done
check "klines warm-up: the history came from the writer thread (the log)" \
    grep -q "BTCUSDT: the models warm up on 1440 history bars ($LEAN)" "$T/k1.log"
check "klines warm-up: 1440 history signals stored, none traded, all before the first live one" \
    eq "$(sqlite3 "$T/k1.db" "select count(*) from signals where source = 'warmup' and traded = 0 and time_ms < (select min(time_ms) from signals where source <> 'warmup')")" 1440
check "klines warm-up: live signals after it" \
    test "$(sqlite3 "$T/k1.db" "select count(*) from signals where source <> 'warmup'")" -ge 20
sigs "$T/k1.db" > "$T/k1.sig"; sigs "$T/k2.db" > "$T/k2.sig"
check "klines warm-up twice: the same signals, row for row" cmp -s "$T/k1.sig" "$T/k2.sig"
d1=$(jget "$T/k1.json" 'j["trading"]["signal_digest"]')
check "status trading.bars_revised: 0 on a capture whose klines revise no bar the engine took" \
    eq "$(jget "$T/k1.json" 'j["trading"]["bars_revised"] + j["trading"]["bars_revised_skipped"]')" 0
check "klines warm-up twice: the same signal digest" eq "$(jget "$T/k2.json" 'j["trading"]["signal_digest"]')" "$d1"

# 2. seek forward, then back to the start (a re-run: the warm-up again), then to the end
"$K" --headless --exit-at-end --speed 5 --config "$T/k.cfg" --db "$T/s.db" --socket "$T/s.sock" \
    --log "$T/s.log" --replay "$F" > "$T/s.json" 2> "$T/s.err" &
spid=$!; PIDS="$PIDS $spid"
check "seek run: socket up" wait_for 20 test -S "$T/s.sock"
warm() { ctl s metrics > "$T/sm.json" 2>/dev/null && [ "$(jget "$T/sm.json" 'j["warmup"]["bars"]')" = 1440 ]; }
check "seek run: the warm-up is fed (ctl metrics warmup.bars)" wait_for 30 warm
check "ctl metrics warmup: what the live data did meanwhile (held = applied, none dropped)" python3 -c '
import json,sys
w=json.load(open(sys.argv[1]))["warmup"]
assert w["warming"] is False and w["live_waiting"]==0 and w["live_bound"]==4096, w
assert w["live_held"]==w["live_applied"]>=1 and w["live_held_max"]>=1, w
assert w["live_dropped"]=={"bars":0,"trades":0,"funding":0}, w' "$T/sm.json"
check "seek +120: accepted" sh -c "\"$K\" ctl --socket $T/s.sock seek +120 > $T/seek1 2>&1"
seek_done() { [ "$(st s 'j["seeking"]')" = False ]; }
check "seek +120: reached" wait_for 30 seek_done
check "seek back to the start: accepted" sh -c \
    "\"$K\" ctl --socket $T/s.sock seek 2024-08-08T23:54:00Z > $T/seek2 2>&1"
check "seek back: reached" wait_for 30 seek_done
check "seek back: re-ran from the start" test "$(st s 'j["messages"]')" -lt 20000
ctl s speed 0 > /dev/null
wait "$spid"
check "seek run exits 0 at the end" test $? -eq 0
check "seek forward and back: the same signal digest as the uninterrupted run" \
    eq "$(jget "$T/s.json" 'j["trading"]["signal_digest"]')" "$d1"
check "seek run: the log says the warm-up ran twice (start, re-run)" \
    test "$(grep -c "BTCUSDT: the models warm up on 1440 history bars" "$T/s.log")" -ge 2

# 3. the next day on the first run's stored candles (its model state removed: a warm-up again)
sqlite3 "$T/k1.db" "delete from model_state"
cp "$T/k1.db" "$T/n1.db"; cp "$T/k1.db" "$T/n2.db"
printf 'engine: { horizon = 60; signal_interval = 5; };\n' > "$T/n.cfg"
for n in 1 2; do
    "$K" --headless --exit-at-end --speed 0 --config "$T/n.cfg" --db "$T/n$n.db" \
        --socket "$T/n$n.sock" --log "$T/n$n.log" --replay data/replay/btcusdt_20240809.gz \
        > "$T/n$n.json" 2> "$T/n$n.err"
    check "stored warm-up run $n exits 0" test $? -eq 0
done
check "stored warm-up: the first day's candles were learned from (the log)" \
    grep -q "BTCUSDT: the models warm up on [0-9]* history bars (stored candles)" "$T/n1.log"
sqlite3 "$T/n1.db" "select venue, symbol, time_ms, source, action, printf('%.12f %.12f %.12f %.12f', p_sell, p_hold, p_buy, confidence) from signals where time_ms >= 1723161600000 order by time_ms, id" > "$T/n1.sig"
sqlite3 "$T/n2.db" "select venue, symbol, time_ms, source, action, printf('%.12f %.12f %.12f %.12f', p_sell, p_hold, p_buy, confidence) from signals where time_ms >= 1723161600000 order by time_ms, id" > "$T/n2.sig"
check "stored warm-up: there are signals" test "$(wc -l < "$T/n1.sig")" -ge 20
check "stored warm-up twice: the same signals, row for row" cmp -s "$T/n1.sig" "$T/n2.sig"
check "stored warm-up twice: the same signal digest" \
    eq "$(jget "$T/n2.json" 'j["trading"]["signal_digest"]')" "$(jget "$T/n1.json" 'j["trading"]["signal_digest"]')"

# 4. the next day restoring the first run's stored model state: in a replay too it is read on
# the store's writer thread while the replay holds its next line, so two copies of that
# database give the same signals
cp "$T/k2.db" "$T/r1.db"; cp "$T/k2.db" "$T/r2.db"
for n in 1 2; do
    "$K" --headless --exit-at-end --speed 0 --config "$T/n.cfg" --db "$T/r$n.db" \
        --socket "$T/r$n.sock" --log "$T/r$n.log" --replay data/replay/btcusdt_20240809.gz \
        > "$T/r$n.json" 2> "$T/r$n.err"
    check "restore run $n exits 0" test $? -eq 0
done
check "restore: the replay read the model state on the writer thread (the log)" \
    grep -q "model state of BTCUSDT read on the store's writer thread: found" "$T/r1.log"
check "restore: the state was restored, nothing read at once" sh -c \
    "grep -q 'model state of BTCUSDT restored: version' '$T/r1.log' && ! grep -q 'read at once' '$T/r1.log'"
check "restore: no warm-up (the state has learned)" sh -c "! grep -q 'warm up on' '$T/r1.log'"
sqlite3 "$T/r1.db" "select venue, symbol, time_ms, source, action, printf('%.12f %.12f %.12f %.12f', p_sell, p_hold, p_buy, confidence) from signals where time_ms >= 1723161600000 order by time_ms, id" > "$T/r1.sig"
sqlite3 "$T/r2.db" "select venue, symbol, time_ms, source, action, printf('%.12f %.12f %.12f %.12f', p_sell, p_hold, p_buy, confidence) from signals where time_ms >= 1723161600000 order by time_ms, id" > "$T/r2.sig"
check "restore: there are signals" test "$(wc -l < "$T/r1.sig")" -ge 20
check "restore twice: the same signals, row for row" cmp -s "$T/r1.sig" "$T/r2.sig"
check "restore twice: the same signal digest" \
    eq "$(jget "$T/r2.json" 'j["trading"]["signal_digest"]')" "$(jget "$T/r1.json" 'j["trading"]["signal_digest"]')"
done_tests
