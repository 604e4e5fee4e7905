#!/bin/sh
# Bad input end to end: every kind of junk is counted as malformed and skipped, the run goes on,
# the process exits 0 and the good lines still build the right book. A whole file that is bad
# (truncated gzip, empty, no recognisable message, every line malformed) says so: a WARN naming
# it, data_problem in the status, the banner for the UI, and exit status 3 under --exit-at-end.
. "$(dirname "$0")/../lib.sh"
R=data/replay/btcusdt_20240808.gz
# 1. real lines interleaved with junk (plain text file)
zcat "$R" | head -n 2000 > "$T/good.txt"
awk 'NR==1' "$T/good.txt" | cut -d' ' -f1 > "$T/ts"
ts=$(cat "$T/ts")
{
    head -n 1000 "$T/good.txt"
    echo "$ts this is not json"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61000.00\",\"q\":"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":61000,\"q\":\"1\",\"T\":1,\"m\":true}}"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1e400\",\"q\":\"1\",\"T\":1,\"m\":true}}"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"NaN\",\"q\":\"1\",\"T\":1,\"m\":true}}"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61000.00\",\"q\":\"-3\",\"T\":1,\"m\":true}}"
    echo "$ts {\"stream\":\"btcusdt@nosuchstream\",\"data\":{\"e\":\"mystery\",\"s\":\"BTCUSDT\"}}"
    echo "$ts {\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":\"x\",\"u\":2,\"b\":[],\"a\":[]}}"
    printf '%s \377\376\375 invalid utf-8 {"a":1}\n' "$ts"
    echo "notatimestamp {\"stream\":\"btcusdt@trade\",\"data\":{}}"
    printf '%s {"stream":"btcusdt@trade","data":"' "$ts"; head -c 6000000 /dev/zero | tr '\0' 'A'; echo '"}'
    echo "$ts [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    tail -n +1001 "$T/good.txt"
} > "$T/mixed.txt"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/a.db" --socket "$T/a.sock" \
    --log "$T/a.log" --replay "spot:$T/mixed.txt" > "$T/a.json" 2> "$T/a.err"
check "junk-laden replay exits 0" test $? -eq 0
check "12 junk lines counted as malformed" eq "$(jget $T/a.json 'j["malformed"]')" 12
check "every good line still applied" eq "$(jget $T/a.json 'j["messages"]')" 2000
check "the book is live despite the junk" eq "$(sym $T/a.json BTCUSDT book_state)" live

# 2. truncated gzip: the file ends early, counted, the run goes on with the other file
sz=$(stat -c %s "$R")
head -c $((sz / 2)) "$R" > "$T/trunc.gz"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/b.db" --socket "$T/b.sock" \
    --log "$T/b.log" --replay "$T/trunc.gz,data/replay/ethusdt_20240808.gz" > "$T/b.json" 2> "$T/b.err"
check "truncated gzip: exits 3 (data problem)" test $? -eq 3
check "truncated gzip: counted as malformed" test "$(jget $T/b.json 'j["malformed"]')" -ge 1
check "truncated gzip: the other file is whole" eq "$(sym $T/b.json ETHUSDT book_state)" live
check "truncated gzip: part of BTCUSDT was read" test "$(sym $T/b.json BTCUSDT trades)" -gt 100
check "truncated gzip: data_problem names the file and says truncated" sh -c \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[\"data_problem\"]; assert d.startswith(sys.argv[2]+\": truncated\"), d' $T/b.json $T/trunc.gz"
check "truncated gzip: a WARN names the file" grep -q "WARN.*replay $T/trunc.gz: truncated" "$T/b.log"
check "truncated gzip: the whole file is not blamed" sh -c "! grep -q 'WARN.*ethusdt_20240808.gz' $T/b.log"

# 3. an empty file and a binary file
: > "$T/empty.txt"
head -c 100000 /dev/urandom > "$T/random.bin"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/c.db" --socket "$T/c.sock" \
    --log "$T/c.log" --replay "$T/empty.txt,$T/random.bin" > "$T/c.json" 2> "$T/c.err"
check "empty + random files: exits 3 with a status" test $? -eq 3 -a -s "$T/c.json"
check "empty + random: data_problem names the first and counts the other" eq \
    "$(jget $T/c.json 'j["data_problem"]')" "$T/empty.txt: empty file (+1 more)"
check "empty file: its WARN" grep -q "WARN.*replay $T/empty.txt: empty file" "$T/c.log"
# (random bytes: a line may by chance start with digits and a space, i.e. carry a receive time)
check "random file: its WARN" grep -Eq "WARN.*replay $T/random.bin: (no recognisable message|every line is malformed)" "$T/c.log"
# 3b. each bad file alone, built from the real capture: its WARN, its reason, exit 3
zcat "$R" | head -n 3000 | awk '{print $1, substr($0, length($1) + 2, 40)}' > "$T/cut.txt"
zcat "$R" | head -n 3000 | awk '{print $1, "{\"id\":" NR ",\"result\":null}"}' > "$T/acks.txt"
zcat "$R" | head -n 3000 | sed 's/^\([0-9]*\) /\1: /; s/^/x/' > "$T/garbage.txt"
for c in "trunc.gz:truncated or unreadable" "empty.txt:empty file" \
         "garbage.txt:no recognisable message" "acks.txt:no recognisable message" \
         "cut.txt:every line is malformed"; do
    f=${c%%:*}; why=${c#*:}
    "$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/x$f.db" --socket "$T/x.sock" \
        --log "$T/x$f.log" --replay "spot:$T/$f" > "$T/x$f.json" 2> "$T/x$f.err"
    check "$f alone: exits 3" test $? -eq 3
    check "$f alone: the WARN says '$why'" grep -q "WARN.*replay $T/$f: $why" "$T/x$f.log"
    check "$f alone: data_problem says '$why'" sh -c \
        "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[\"data_problem\"]; assert d.startswith(sys.argv[2]), d' $T/x$f.json '$T/$f: $why'"
done

# 3c. a file that ends early is named while the others still play (paced, x50)
"$KESTREL_BIN" --headless --speed 50 --db "$T/y.db" --socket "$T/y.sock" --log "$T/y.log" \
    --replay "$T/trunc.gz,data/replay/ethusdt_20240808.gz" > /dev/null 2> "$T/y.err" &
ypid=$!; PIDS="$PIDS $ypid"
named() {
    "$KESTREL_BIN" ctl --socket "$T/y.sock" status > "$T/y.st" 2>/dev/null &&
        [ "$(jget $T/y.st 'j["data_problem"] is not None')" = True ]
}
check "truncated file named while the replay goes on" wait_for 30 named
check "... before the replay has finished" eq "$(jget $T/y.st 'j["finished"]')" False
"$KESTREL_BIN" ctl --socket "$T/y.sock" quit > /dev/null 2>&1
wait "$ypid"
check "... and the run quits 0 through ctl (no --exit-at-end)" test $? -eq 0
# 4. absurd times: a trade stamped in 2255 is malformed (it must not drag the data clock ahead,
#    fill thousands of empty bars and make every later trade late); a line whose receive time is
#    absurd does not stall a paced replay (the silence is skipped), nor move the data clock.
head -n 6000 "$T/good.txt" > "$T/g6.txt"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/d0.db" --socket "$T/d0.sock" \
    --log "$T/d0.log" --replay "spot:$T/g6.txt" > "$T/d0.json" 2> "$T/d0.err"
bt=$(grep -m1 bookTicker "$T/g6.txt" | cut -d' ' -f2-)
{
    head -n 3000 "$T/g6.txt"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":9000000000000,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61000.00\",\"q\":\"1\",\"T\":9000000000000,\"m\":true}}"
    echo "$ts {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":2,\"p\":\"61000.00\",\"q\":\"1\",\"T\":1,\"m\":true}}"
    echo "9000000000000000000 $bt"
    echo "1 $bt"
    tail -n +3001 "$T/g6.txt"
} > "$T/times.txt"
timeout 60 "$KESTREL_BIN" --headless --exit-at-end --speed 4 --db "$T/d.db" --socket "$T/d.sock" \
    --log "$T/d.log" --replay "spot:$T/times.txt" > "$T/d.json" 2> "$T/d.err"
check "absurd times: a paced replay still ends (exit 0)" test $? -eq 0
check "absurd trade times counted as malformed" eq "$(jget $T/d.json 'j["malformed"]')" 2
check "absurd times: the data clock is the real one" \
    eq "$(jget $T/d.json 'j["data_time"]')" "$(jget $T/d0.json 'j["data_time"]')"
check "absurd times: the candles are the real ones" \
    eq "$(sym $T/d.json BTCUSDT candles)" "$(sym $T/d0.json BTCUSDT candles)"
check "absurd times: the trades are the real ones" \
    eq "$(sym $T/d.json BTCUSDT trades)" "$(sym $T/d0.json BTCUSDT trades)"
# 5. the largest receive time the reader accepts (INT64_MAX - 8 ns) among ordinary ones: the pacing
#    arithmetic around it must not overflow (it did: UBSan abort), and it is skipped like test 4's
{
    head -n 1000 "$T/g6.txt"
    echo "9223372036854775799 $bt"
    tail -n +1001 "$T/g6.txt"
} > "$T/top.txt"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/e.db" --socket "$T/e.sock" \
    --log "$T/e.log" --replay "spot:$T/top.txt" > "$T/e.json" 2> "$T/e.err"
check "receive time near INT64_MAX: the replay ends (exit 0)" test $? -eq 0
check "receive time near INT64_MAX: the data clock is the real one" \
    eq "$(jget $T/e.json 'j["data_time"]')" "$(jget $T/d0.json 'j["data_time"]')"
check "receive time near INT64_MAX: the candles are the real ones" \
    eq "$(sym $T/e.json BTCUSDT candles)" "$(sym $T/d0.json BTCUSDT candles)"
# 6. a first line with a garbage receive time and no exchange time (a spot bookTicker) must not
#    start the data clock in 2255: the clock starts at the first exchange time
zcat data/replay/ethusdt_20240808.gz | head -n 3000 | awk 'NR==1{print "9000000000000000000 {\"stream\":\"ethusdt@bookTicker\",\"data\":{\"u\":1,\"s\":\"ETHUSDT\",\"b\":\"2680.00\",\"B\":\"1\",\"a\":\"2680.01\",\"A\":\"1\"}}"} {print}' > "$T/g7.txt"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/g.db" --socket "$T/g.sock" \
    --log "$T/g.log" --replay "spot:$T/g7.txt" > "$T/g.json" 2> "$T/g.err"
check "garbage first receive time: exits 0" test $? -eq 0
check "garbage first receive time: the data clock is the recorded day" eq "$(jget $T/g.json 'j["data_time"][:10]')" 2024-08-08
# 8. symbols outside Binance's charset [A-Z0-9]: a wide one (would overwrite the clock) and one
#    with U+202E (display spoofing) are malformed and never become symbols
{
    head -n 1000 "$T/good.txt"
    printf '%s {"stream":"x@bookTicker","data":{"u":1,"s":"\346\257\224\347\211\271\345\270\201\346\257\224\347\211\271\345\270\201USD","b":"1.00","B":"1","a":"1.01","A":"1"}}\n' "$ts"
    printf '%s {"stream":"x@bookTicker","data":{"u":1,"s":"BTC\342\200\256USDT","b":"1.00","B":"1","a":"1.01","A":"1"}}\n' "$ts"
    tail -n +1001 "$T/good.txt"
} > "$T/syms.txt"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/s.db" --socket "$T/s.sock" \
    --log "$T/s.log" --replay "spot:$T/syms.txt" > "$T/s.json" 2> "$T/s.err"
check "wide and bidi symbols: exits 0" test $? -eq 0
check "wide and bidi symbols: both counted malformed" eq "$(jget $T/s.json 'j["malformed"]')" 2
check "wide and bidi symbols: only BTCUSDT is a symbol" eq "$(jget $T/s.json '",".join(s["symbol"] for s in j["symbols"])')" BTCUSDT

# 9. symbols beyond market.max_symbols: counted malformed, and one WARN names the first
printf 'market = { max_symbols = 1; };\n' > "$T/one.cfg"
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --config "$T/one.cfg" --db "$T/m.db" \
    --socket "$T/m.sock" --log "$T/m.log" \
    --replay data/replay/btcusdt_20240808.gz,data/replay/ethusdt_20240808.gz > "$T/m.json" 2> "$T/m.err"
check "max_symbols 1: exits 0" test $? -eq 0
check "max_symbols 1: one symbol" eq "$(jget $T/m.json 'len(j["symbols"])')" 1
check "max_symbols 1: the other symbol's messages are malformed" test "$(jget $T/m.json 'j["malformed"]')" -gt 1000
check "max_symbols 1: exactly one WARN about it" eq "$(grep -c 'WARN.*max_symbols' "$T/m.log")" 1
check "max_symbols 1: the WARN names the symbol" grep -q 'WARN.*symbol ETHUSDT ignored' "$T/m.log"
done_tests
