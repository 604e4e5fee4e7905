#!/bin/sh
# The ingest pipeline through the binary: the simulated clock reaches the same final state at
# --speed 0, 1 and 8 (a 10-second cut of the real BTCUSDT capture, snapshot line included);
# --exit-at-end prints the status only after the store has committed every row; the status says
# which trades were late (none at the default grace).
. tests/lib.sh
zcat data/replay/btcusdt_20240808.gz | head -n 1200 | gzip > "$T/cut.gz"
run_speed() { # speed -> $T/st_<speed>.json
    "$KESTREL_BIN" --headless --exit-at-end --speed "$1" --db "$T/s$1.db" --socket "$T/s$1.sock" \
        --replay "$T/cut.gz" > "$T/st_$1.json" 2>"$T/err_$1.txt"
}
# the state that must not depend on pacing: everything but the speed, rates, paths and times of
# the wall clock
norm() {
    python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
for k in ("speed","messages_per_s","files"): j.pop(k,None)
j.get("store",{}).pop("path",None); j.get("control",{}).pop("path",None)
print(json.dumps(j,sort_keys=True))' "$1"
}
for sp in 0 1 8; do
    check "speed $sp: exits 0" run_speed $sp
done
check "speed 0: the cut was replayed (1200 lines, a synced book)" \
    eq "$(jget "$T/st_0.json" 'j["lines"]'):$(sym "$T/st_0.json" BTCUSDT book_state)" "1200:live"
check "speed 1 and 0 end in the same state" eq "$(norm "$T/st_1.json")" "$(norm "$T/st_0.json")"
check "speed 8 and 0 end in the same state" eq "$(norm "$T/st_8.json")" "$(norm "$T/st_0.json")"

# --exit-at-end: the store has flushed before the status is printed
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/full.db" --socket "$T/full.sock" \
    > "$T/full.json" 2>/dev/null
check "exit-at-end: the store queue is empty" eq "$(jget "$T/full.json" 'j["store"]["queue_depth"]')" "0"
held=$(python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
print(sum(sum(s["candles"].values()) for s in j["symbols"]))' "$T/full.json")
check "exit-at-end: every closed bar the status counts is in the database" \
    eq "$(sqlite3 "$T/full.db" 'select count(*) from candles')" "$held"
check "exit-at-end: rows written = rows in the status" \
    eq "$(jget "$T/full.json" 'j["store"]["rows_dropped"]')" "0"
# partial bars: the replay starts at 23:54, so every stored (closed) 1h / 4h / 1d bar is the first
# of its series and partial; each symbol's first 1m bar is partial, the others whole
q() { sqlite3 "$T/full.db" "$1"; }
nsym=$(q "select count(distinct venue || symbol) from candles")
hi="tf in ('1h','4h','1d')"
check "partial: the closed 1h/4h/1d bars of the $nsym symbols are all stored as partial" \
    eq "$(q "select count(*) from candles where $hi and partial = 1"):$(q "select count(*)
    from candles where $hi and partial = 0")" "$((3 * nsym)):0"
first1m="open_ms = (select min(open_ms) from candles d where d.venue = c.venue and
    d.symbol = c.symbol and d.tf = '1m')"
check "partial: the first 1m bar of each symbol is partial, no other one" \
    eq "$(q "select count(*) from candles c where tf = '1m' and partial = 1 and $first1m"):$(q \
    "select count(*) from candles where tf = '1m' and partial = 1")" "$nsym:$nsym"
check "no trade late at the default grace" \
    eq "$(jget "$T/full.json" 'j["late_trades"]["1s"]'):$(jget "$T/full.json" 'j["late_trades"]["1m"]')" "0:0"
check "the status counts the pipeline's frames" \
    eq "$(jget "$T/full.json" 'j["ingest"]["frames"]'):$(jget "$T/full.json" 'j["ingest"]["bar_grace_ms"]')" "179318:250"

# market.bar_grace_ms = 0 brings the old defect back: trades whose T lags the depth stream's E
printf 'market: { bar_grace_ms = 0; };\n' > "$T/nograce.cfg"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --config "$T/nograce.cfg" --db "$T/ng.db" \
    --socket "$T/ng.sock" > "$T/ng.json" 2>/dev/null
check "without a grace, trades are late (and counted)" \
    test "$(jget "$T/ng.json" 'j["late_trades"]["1s"]')" -gt 100
check "... and the status says the grace is 0" eq "$(jget "$T/ng.json" 'j["ingest"]["bar_grace_ms"]')" "0"

# history off the message path: the 09 files after a run of the 08 files on the same database
# find the 08 bars in the store (loaded by the history reader) in front of their own
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/h.db" --socket "$T/h.sock" \
    --replay data/replay/btcusdt_20240808.gz > "$T/h8.json" 2>/dev/null
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/h.db" --socket "$T/h.sock" \
    --replay data/replay/btcusdt_20240809.gz > "$T/h9.json" 2>"$T/h9.err"
n8=$(sym "$T/h8.json" BTCUSDT candles.1m)
n9=$(sym "$T/h9.json" BTCUSDT bars_held.1m)
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/h9only.db" --socket "$T/h.sock" \
    --replay data/replay/btcusdt_20240809.gz > "$T/h9only.json" 2>/dev/null
own=$(sym "$T/h9only.json" BTCUSDT bars_held.1m)
check "history: the 08 run stored its 1m bars ($n8)" test "${n8:-0}" -ge 5
check "history: the 09 run holds the stored bars in front of its own ($n9 = $n8 + $own)" \
    eq "$n9" "$((n8 + own))"
check "history: the load is logged" grep -q "stored bars loaded" "$T/h9.err"

# a start refused because another Kestrel holds the control socket creates no database
"$KESTREL_BIN" --headless --speed 1 --db "$T/first.db" --socket "$T/busy.sock" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_for 10 "$KESTREL_BIN" ctl --socket "$T/busy.sock" status >/dev/null 2>&1
"$KESTREL_BIN" --headless --exit-at-end --db "$T/second.db" --socket "$T/busy.sock" \
    >/dev/null 2>"$T/second.err"
rc=$?
check "a second Kestrel on the same socket is refused (exit $rc)" test "$rc" -ne 0
check "... before it created its database" test ! -e "$T/second.db"
"$KESTREL_BIN" ctl --socket "$T/busy.sock" quit >/dev/null 2>&1
done_tests
