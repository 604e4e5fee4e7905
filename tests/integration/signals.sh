#!/bin/sh
# SIGINT / SIGTERM: the store is flushed (every closed candle committed, the session closed),
# the control socket removed, exit status 0. SIGPIPE is ignored. A kill -9 loses at most the
# uncommitted tail: the database opens cleanly afterwards.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
for sig in TERM INT; do
    "$K" --headless --speed 0 --db "$T/$sig.db" --socket "$T/$sig.sock" --log "$T/$sig.log" \
        --replay data/replay/btcusdt_20240808.gz,data/replay/btcusdt_20240809.gz &
    pid=$!
    wait_for 30 sh -c "'$K' ctl --socket '$T/$sig.sock' status 2>/dev/null | grep -q '\"finished\":true'"
    closed=$("$K" ctl --socket "$T/$sig.sock" status | python3 -c 'import json,sys; print(sum(s["candles"]["1m"] for s in json.load(sys.stdin)["symbols"]))')
    kill -$sig $pid
    wait $pid; rc=$?
    check "SIG$sig: exit status 0" test $rc -eq 0
    check "SIG$sig: control socket removed" test ! -e "$T/$sig.sock"
    check "SIG$sig: every closed 1m bar is in the database" eq "$(sqlite3 "$T/$sig.db" "select count(*) from candles where tf='1m'")" "$closed"
    check "SIG$sig: session closed" eq "$(sqlite3 "$T/$sig.db" "select count(*) from sessions where ended_ms is not null")" 1
done
# kill -9 mid-run, then a normal run on the same database
"$K" --headless --speed 8 --db "$T/k9.db" --socket "$T/k9.sock" --log "$T/k9.log" \
    --replay data/replay/btcusdt_20240808.gz &
pid=$!
wait_for 10 test -S "$T/k9.sock"
sleep 2
kill -9 $pid; wait $pid 2>/dev/null
check "kill -9 leaves a stale socket behind" test -S "$T/k9.sock"
"$K" --headless --exit-at-end --speed 0 --db "$T/k9.db" --socket "$T/k9.sock" --log "$T/k9b.log" \
    --replay data/replay/btcusdt_20240808.gz > "$T/k9.json"
check "after kill -9 the next run replaces the stale socket, opens the database and completes" test $? -eq 0
check "integrity check passes after kill -9" eq "$(sqlite3 "$T/k9.db" 'pragma integrity_check')" ok
done_tests
