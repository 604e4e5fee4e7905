#!/bin/sh
# The restore of a live symbol's stored model state off the main thread (docs/ENGINE.md "The
# restore read, off the main thread"): kestrel --live against the fake exchange (real captures,
# times moved to now) with signals every second and a checkpoint every 10 s of data; after
# checkpoints and signals are stored it is killed with SIGKILL; the next start on the same
# database reads the symbol's newest state and the signals stored after it on the store's
# writer thread (the log says so, nothing was read at once), restores it before its first
# signal (ctl status model_state.restored_version is the newest stored version) and goes on
# making signals. Bounded polls only.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
fake_start fake --lifetime 300 --rate 200 --max-lines 20000 --shift-times \
    --preload binance-spot:BTCUSDT
cat > "$T/live.cfg" <<CFG
source = "live";
watch = ["binance-spot:BTCUSDT"];
venues = { binance-spot = { network = "mainnet"; rest_url = "$B"; ws_url = "$W/"; }; };
engine = { signal_interval = 1; horizon = 10; state_interval = 10; };
CFG
sq() { # socket EXPR: the python expression over `ctl status` is True
    "$K" ctl --socket "$1" status > "$T/s.json" 2> /dev/null &&
        [ "$(jget "$T/s.json" "$2")" = True ]
}
MS='j["trading"]["model_state"]'
not_in() { ! grep -q "$1" "$2"; }

"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/a.sock" --log "$T/a.log" \
    > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "first run: signals and model state checkpoints are stored" \
    wait_for 60 sq "$T/a.sock" "$MS[\"checkpoints\"] >= 2 and $MS[\"signals_written\"] >= 5"
check "first run: nothing to restore (an empty database)" sq "$T/a.sock" "$MS[\"restored_version\"] == 0"
kill -KILL $pid; wait $pid 2> /dev/null
newest=$(sqlite3 "$T/k.db" "select max(id) from model_state where symbol = 'BTCUSDT'")
check "the killed run left a model state" test -n "$newest" -a "$newest" -gt 0

"$K" --headless --config "$T/live.cfg" --db "$T/k.db" --socket "$T/b.sock" --log "$T/b.log" \
    > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "restart: the newest stored state is restored" \
    wait_for 60 sq "$T/b.sock" "$MS[\"restored_version\"] == $newest"
check "restart: read on the store's writer thread" \
    grep -q "model state of BTCUSDT read on the store's writer thread: found" "$T/b.log"
check "restart: nothing read at once on the main thread" \
    not_in "the store is busy; read at once" "$T/b.log"
check "restart: the log says it was restored" grep -q "model state of BTCUSDT restored" "$T/b.log"
check "restart: signals go on after it" \
    wait_for 30 sq "$T/b.sock" "j[\"trading\"][\"signals\"] >= 3"
kill -TERM $pid; wait $pid; rc=$?
check "restart: SIGTERM exits 0" test $rc -eq 0
done_tests
