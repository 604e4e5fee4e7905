#!/bin/sh
# Replay controls end to end on the real captures: seek forward and back reproduces the state of
# an uninterrupted run (status minus rates, the same store rows), step closes one bar while
# paused, restart starts over, --loop runs past the end with the data clock going on, and the
# progress model is in the status document.
. "$(dirname "$0")/../lib.sh"
F=data/replay/btcusdt_20240808.gz,data/replay/btcusdt_20240809.gz
ctl() { s=$1; shift; "$KESTREL_BIN" ctl --socket "$T/$s.sock" "$@"; }
st() { ctl "$1" status > "$T/$1.st" && jget "$T/$1.st" "$2"; }

# 1. the uninterrupted run
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/u.db" --socket "$T/u.sock" \
    --log "$T/u.log" --replay "$F" > "$T/u.json" 2> "$T/u.err"
check "uninterrupted run exits 0" test $? -eq 0
check "no data problem on the real captures" eq "$(jget $T/u.json 'j["data_problem"]')" None
check "finished run: progress 1" eq "$(jget $T/u.json 'j["progress"]')" 1
check "span from the first to the last line" eq \
    "$(jget $T/u.json 'j["span_start"][:19]+" "+j["span_end"][:19]')" \
    "2024-08-08T23:54:13 2024-08-09T00:05:04"

# 2. the same files at x5, seek forward 2 minutes, then back to 23:55, then at full speed to the end
"$KESTREL_BIN" --headless --exit-at-end --speed 5 --db "$T/s.db" --socket "$T/s.sock" \
    --log "$T/s.log" --replay "$F" > "$T/s.json" 2> "$T/s.err" &
spid=$!; PIDS="$PIDS $spid"
check "seek run: socket up" wait_for 10 test -S "$T/s.sock"
pos0=$(st s 'j["data_time_ms"]')
check "seek +120: accepted" sh -c "\"$KESTREL_BIN\" ctl --socket $T/s.sock seek +120 > $T/seek1 2>&1"
seek_done() { [ "$(st s 'j["seeking"]')" = False ]; }
check "seek +120: reached" wait_for 20 seek_done
pos1=$(st s 'j["data_time_ms"]')
check "seek +120: the data clock moved at least 2 minutes" test $((pos1 - pos0)) -ge 119000
check "status has the progress model" sh -c \
    "python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert 0 < j[\"progress\"] < 1 and j[\"position_time\"] and j[\"span_start\"] and j[\"span_end\"] and j[\"eta_s\"] > 0' $T/s.st"
ctl s pause > /dev/null # a seek while paused runs to its target and stays paused there
check "seek to an ISO time backwards: accepted" sh -c \
    "\"$KESTREL_BIN\" ctl --socket $T/s.sock seek 2024-08-08T23:55:00Z > $T/seek2 2>&1"
check "seek back: reached" wait_for 20 seek_done
pos2=$(st s 'j["data_time_ms"]')
check "seek back: the data clock is at 23:55:00 (within 1 s)" test \
    $((pos2 - 1723161300000)) -lt 1000 -a $((pos2 - 1723161300000)) -gt -1000
check "seek back while paused: still paused" eq "$(jget $T/s.st 'j["paused"]')" True
check "seek back: re-ran from the start (fewer messages than before)" test \
    "$(jget $T/s.st 'j["messages"]')" -lt 20000
check "bad seek target refused" sh -c "! \"$KESTREL_BIN\" ctl --socket $T/s.sock seek yesterday > $T/seek3 2>&1"
check "bad seek target: says what is expected" grep -q "ISO UTC" "$T/seek3"
ctl s speed 0 > /dev/null
ctl s resume > /dev/null
wait "$spid"
check "seek run exits 0 at the end" test $? -eq 0
same_state() {
    python3 - "$T/u.json" "$T/s.json" <<'EOF'
import json, sys
def norm(p):
    j = json.load(open(p))
    for k in ("messages_per_s", "store", "control", "ui", "eta_s"):
        j.pop(k, None)
    return j
u, s = norm(sys.argv[1]), norm(sys.argv[2])
bad = [k for k in set(u) | set(s) if u.get(k) != s.get(k)]
for k in bad:
    print("   differs:", k, str(u.get(k))[:120], "|", str(s.get(k))[:120])
sys.exit(1 if bad else 0)
EOF
}
check "seek forward and back: the same final state as the uninterrupted run" same_state
rows() { sqlite3 "$1" "select count(*) from candles; select count(*) from book_events;" | tr '\n' ' '; }
check "seek: no duplicate store rows (candles, book events)" eq "$(rows $T/s.db)" "$(rows $T/u.db)"

# 3. step while paused, restart
"$KESTREL_BIN" --headless --speed 0.01 --db "$T/p.db" --socket "$T/p.sock" \
    --log "$T/p.log" --replay "$F" > /dev/null 2> "$T/p.err" &
ppid=$!; PIDS="$PIDS $ppid"
check "step run: socket up" wait_for 10 test -S "$T/p.sock"
check "step refused while running" sh -c "! \"$KESTREL_BIN\" ctl --socket $T/p.sock step > $T/step0 2>&1"
ctl p pause > /dev/null
ctl p timeframe 1m > /dev/null
c1m() { st p '(j["symbols"][0]["candles"]["1m"] if j["symbols"] else 0)'; }
n0=$(c1m)
step_done() { [ "$(st p 'j["stepping"]')" = False ]; }
check "step: accepted while paused" sh -c "\"$KESTREL_BIN\" ctl --socket $T/p.sock step > /dev/null"
check "step: done" wait_for 20 step_done
check "step: exactly one more 1m bar closed" eq "$(c1m)" $((n0 + 1))
check "step: still paused" eq "$(st p 'j["paused"]')" True
ctl p step > /dev/null
check "step again: done" wait_for 20 step_done
check "step again: one more" eq "$(c1m)" $((n0 + 2))
check "restart: accepted" sh -c "\"$KESTREL_BIN\" ctl --socket $T/p.sock restart > /dev/null"
check "restart: the model starts over" eq "$(st p 'j["messages"]')" 0
ctl p quit > /dev/null
wait "$ppid"
check "step run quits 0" test $? -eq 0

# 4. --loop: past the end of the files, the data clock going on, quit through ctl
pass=$(zcat data/replay/btcusdt_20240808.gz | wc -l)
"$KESTREL_BIN" --headless --speed 0 --loop --db "$T/l.db" --socket "$T/l.sock" \
    --log "$T/l.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2> "$T/l.err" &
lpid=$!; PIDS="$PIDS $lpid"
check "loop run: socket up" wait_for 10 test -S "$T/l.sock"
past() { [ "$(st l 'j["lines"]')" -gt $((pass * 2)) ]; }
check "--loop: more lines than two passes" wait_for 30 past
check "--loop: loops counted" test "$(jget $T/l.st 'j["loops"]')" -ge 2
check "--loop: the data clock is past the files' end" test \
    "$(jget $T/l.st 'j["data_time"]')" \> "2024-08-09T00:00:00"
check "--loop: not finished" eq "$(jget $T/l.st 'j["finished"]')" False
check "--loop: nothing dropped as malformed or late in time" eq "$(jget $T/l.st 'j["malformed"]')" 0
check "--loop: the book stays live" eq "$(sym $T/l.st BTCUSDT book_state)" live
ctl l quit > /dev/null
wait "$lpid"
check "--loop run quits 0 through ctl" test $? -eq 0
check "--loop: the log says each loop" grep -q "replay loop 2" "$T/l.log"

done_tests
