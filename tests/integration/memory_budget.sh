#!/bin/sh
# The memory budget through the binary: market limits over limits.memory_mb are refused at start
# with the numbers (exit 2, nothing created); the same limits under a budget that holds them
# start; the status document's "memory" section says what is reserved and held; a stored
# indicator list that no longer fits (16 x ichimoku_5000_5000_5000_5000, the issue's reproduction)
# is ignored at start with a WARN, the default list is used, and the run ends normally.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
R=data/replay/btcusdt_20240808.gz,data/replay/ethusdt_20240808.gz
run() { # cfg db log out err: a headless replay to the end; the exit status in $rc
    "$K" --config "$1" --headless --exit-at-end --speed 0 --db "$2" --socket "$T/s" \
        --log "$3" --replay "$R" > "$4" 2> "$5"
    rc=$?
}

# 1. limits over the budget: refused with the numbers, before anything is created
cat > "$T/big.cfg" <<'CFG'
market = { max_symbols = 4096; book_levels = 5000; };
CFG
run "$T/big.cfg" "$T/big.db" "$T/big.log" "$T/big.json" "$T/big.err"
check "over the budget: exit 2" eq "$rc" 2
check "over the budget: says what the market needs" \
    grep -Eq "the market needs 4096 symbols x [0-9.]+ [KM]B at most \(book [0-9.]+ [KM]B \
for 5000 levels.*\) = [0-9.]+ MB" "$T/big.err"
check "over the budget: names the budget" grep -q "over limits.memory_mb = 64" "$T/big.err"
check "over the budget: no database created" test ! -e "$T/big.db"

# 2. the same limits with a budget that holds them
cat > "$T/ok.cfg" <<'CFG'
market = { max_symbols = 4096; book_levels = 5000; };
limits = { memory_mb = 8192; };
CFG
run "$T/ok.cfg" "$T/ok.db" "$T/ok.log" "$T/ok.json" "$T/ok.err"
check "a budget that holds them: exit 0" eq "$rc" 0
check "status memory: the budget" eq "$(jget "$T/ok.json" 'j["memory"]["budget_mb"]')" 8192
check "status memory: max_symbols" eq "$(jget "$T/ok.json" 'j["memory"]["max_symbols"]')" 4096

# 3. defaults: what the status says fits, and a first run that stores the default list
printf '# defaults\n' > "$T/def.cfg"
run "$T/def.cfg" "$T/k.db" "$T/a.log" "$T/a.json" "$T/a.err"
check "defaults: exit 0" eq "$rc" 0
check "defaults: 64 MB budget" eq "$(jget "$T/a.json" 'j["memory"]["budget_mb"]')" 64
M='j["memory"]'
check "defaults: the market's reservation and the indicators' share make the budget" \
    eq "$(jget "$T/a.json" "$M['reserve_bytes'] + $M['market_max_bytes'] + \
        $M['indicators_budget_bytes'] == 64 << 20")" True
check "defaults: what is held is within what is reserved" \
    eq "$(jget "$T/a.json" "$M['market_bytes'] <= $M['market_max_bytes'] and \
        $M['indicators_bytes'] <= $M['indicators_budget_bytes']")" True
check "defaults: 100 symbols with the default indicators fit" \
    eq "$(jget "$T/a.json" "$M['indicators_symbol_bytes'] * 100 <= \
        $M['indicators_budget_bytes'] and $M['max_symbols'] == 100")" True
check "defaults: both symbols carry indicators" \
    eq "$(jget "$T/a.json" 'j["memory"]["symbols_without_indicators"]')" 0

# 4. a stored list over the budget: ignored at start with a WARN, the default used
L=ichimoku_5000_5000_5000_5000
LIST=$L; i=1; while [ $i -lt 16 ]; do LIST="$LIST,$L"; i=$((i + 1)); done
sqlite3 "$T/k.db" "insert or replace into settings(key, value, updated_ms)
                   values('ui.indicators', '$LIST', 1)"
check "the oversized list is stored" eq "$(sqlite3 "$T/k.db" \
    "select length(value) > 400 from settings where key = 'ui.indicators'")" 1
run "$T/def.cfg" "$T/k.db" "$T/b.log" "$T/b.json" "$T/b.err"
check "stored oversized list: the start is not refused (exit 0)" eq "$rc" 0
check "stored oversized list: WARN with the numbers" \
    grep -q "WARN  stored indicator list 'ichimoku.*' ignored: the list needs .* MB per symbol" \
    "$T/b.log"
check "stored oversized list: the default list is used" \
    eq "$(jget "$T/b.json" 'j["indicators"]')" "$(jget "$T/a.json" 'j["indicators"]')"
check "stored oversized list: the replay ran" test "$(jget "$T/b.json" 'j["messages"]')" -gt 1000
done_tests
