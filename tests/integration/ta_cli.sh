#!/bin/sh
# End-to-end test of `kestrel ta` on the shipped real data: the default set against TA-Lib's
# reference to 1e-9 relative (warm-up cells must be empty exactly where TA-Lib's are), gzip and
# header-less input, bad rows reported with their line numbers and the exit status, --list,
# --format json, --indicators. Prints "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
BIN=${KESTREL_BIN:-build/release/kestrel}
DATA=${KESTREL_SHARED_DATA:-../shared/data}
DAY=$DATA/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv
REF=$DATA/ta-reference/talib_lean_binance_BTCBUSD_1m_2022-12-13.csv
PERP=$DATA/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz
T=$(mktemp -d /tmp/kestrel-ta-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else no "$2"; fi; }

# ---- default set vs the TA-Lib reference ----
"$BIN" ta --data "$DAY" >"$T/day.csv" 2>"$T/day.err"; rc=$?
check '[ $rc -eq 0 ]' "default run exit $rc ($(cat "$T/day.err"))"
want_header="open_time_ms,sma_20,ema_20,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9,bb_upper_20_2,bb_middle_20_2,bb_lower_20_2,atr_14,stoch_k_14_3_3,stoch_d_14_3_3,stochf_k_14_3,stochf_d_14_3,adx_14,cci_20,obv,mfi_14,willr_14"
check '[ "$(head -n 1 "$T/day.csv")" = "$want_header" ]' "default header: $(head -n 1 "$T/day.csv")"
check '[ "$(wc -l <"$T/day.csv")" -eq 1441 ]' "default rows: $(wc -l <"$T/day.csv")"
# The reference names its columns TA-Lib's way in the same order (SMA(20).outReal, ...), so the
# comparison is by position; its header is checked to be that order.
ref_header=$(head -n 1 "$REF" | tr -d '"')
check '[ "$ref_header" = "open_time_ms,SMA(20).outReal,EMA(20).outReal,RSI(14).outReal,MACD(12,26,9).outMACD,MACD(12,26,9).outMACDSignal,MACD(12,26,9).outMACDHist,BBANDS(20,2).outRealUpperBand,BBANDS(20,2).outRealMiddleBand,BBANDS(20,2).outRealLowerBand,ATR(14).outReal,STOCH(14,3,3).outSlowK,STOCH(14,3,3).outSlowD,STOCHF(14,3).outFastK,STOCHF(14,3).outFastD,ADX(14).outReal,CCI(20).outReal,OBV.outReal,MFI(14).outReal,WILLR(14).outReal" ]' "reference header changed: $ref_header"
cmp_out=$(awk -F, '
    FNR == 1 { next }
    NR == FNR { ref[FNR] = $0; next }
    {
        n = split(ref[FNR], r, ","); m = split($0, o, ",")
        if (n != m || r[1] != o[1]) { bad++; next }
        for (i = 2; i <= n; i++) {
            if (r[i] == "" && o[i] == "") { empty++; continue }
            if (r[i] == "" || o[i] == "") { bad++; if (bad < 5) print "warm-up differs row " FNR " col " i > "/dev/stderr"; continue }
            a = r[i] + 0; b = o[i] + 0; d = a - b; if (d < 0) d = -d
            mx = a < 0 ? -a : a; if ((b < 0 ? -b : b) > mx) mx = b < 0 ? -b : b
            if (d > 1e-9 * mx) { bad++; if (bad < 5) print "row " FNR " col " i ": " r[i] " vs " o[i] > "/dev/stderr" }
            else good++
        }
        rows++
    }
    END { print rows + 0, good + 0, empty + 0, bad + 0 }' "$REF" "$T/day.csv")
c_rows=$(echo "$cmp_out" | cut -d' ' -f1); c_good=$(echo "$cmp_out" | cut -d' ' -f2)
c_empty=$(echo "$cmp_out" | cut -d' ' -f3); c_bad=$(echo "$cmp_out" | cut -d' ' -f4)
check '[ "$c_rows" -eq 1440 ] && [ "$c_good" -gt 27000 ] && [ "$c_bad" -eq 0 ]' "TA-Lib comparison: rows=$c_rows equal=$c_good empty=$c_empty bad=$c_bad"
echo "default set vs TA-Lib: $c_rows rows, $c_good values within 1e-9, $c_empty warm-up cells, $c_bad bad"

# ---- header-less and stdin input give the same rows ----
tail -n +2 "$DAY" >"$T/nohdr.csv"
"$BIN" ta --data "$T/nohdr.csv" >"$T/nohdr.out"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/nohdr.out" "$T/day.csv"' "header-less input differs (exit $rc)"
"$BIN" ta --data - <"$DAY" >"$T/stdin.out"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/stdin.out" "$T/day.csv"' "stdin input differs (exit $rc)"

# ---- gzip input: the 45,031-bar month ----
"$BIN" ta --data "$PERP" --indicators rsi_14,obv >"$T/perp.csv"; rc=$?
check '[ $rc -eq 0 ]' "gzip run exit $rc"
check '[ "$(wc -l <"$T/perp.csv")" -eq 45032 ]' "gzip rows: $(wc -l <"$T/perp.csv")"
check '[ "$(tail -n 1 "$T/perp.csv" | cut -d, -f1)" = "$(zcat "$PERP" | tail -n 1 | cut -d, -f1)" ]' "gzip last bar"

head -c 300000 "$PERP" >"$T/trunc.csv.gz"
"$BIN" ta --data "$T/trunc.csv.gz" --indicators obv >/dev/null 2>"$T/trunc.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "unexpected end of file" "$T/trunc.err"' "truncated gzip: exit $rc ($(cat "$T/trunc.err"))"

# ---- bad rows: reported with line numbers, skipped, exit status 1 ----
{
    head -n 21 "$DAY"                                   # lines 1-21: header + 20 good bars
    echo "1670890800000,17200,abc,17190,17195,1.5"      # line 22: non-numeric
    echo "1670890800000,17200,17190,17210,17195,1.5"    # line 23: high < low
    sed -n 5p "$DAY"                                    # line 24: out of order (old time)
    echo "1670890800000,17200,17210"                    # line 25: too few fields
    sed -n 22,30p "$DAY"                                # lines 26-34: good
    head -c 5000 /dev/zero | tr '\0' '7'; echo          # line 35: over-long
    echo "1670891400000,17200,17210,17190,17195,-1"     # line 36: negative volume
    echo ""                                             # line 37: blank (ignored)
    sed -n 31,40p "$DAY"                                # lines 38-47: good
} >"$T/bad.csv"
"$BIN" ta --data "$T/bad.csv" >"$T/bad.out" 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 1 ]' "bad rows exit status $rc, want 1"
for ln in 22 23 24 25 35 36; do
    check 'grep -q ":$ln: bad row" "$T/bad.err"' "line $ln not reported: $(cat "$T/bad.err")"
done
check '[ "$(grep -c ": bad row" "$T/bad.err")" -eq 6 ]' "bad row count: $(grep -c ': bad row' "$T/bad.err")"
check 'grep -q "high < low" "$T/bad.err" && grep -q "not after the previous" "$T/bad.err"' "bad-row reasons"
check '[ "$(wc -l <"$T/bad.out")" -eq 40 ]' "good rows kept: $(wc -l <"$T/bad.out") lines, want 40"
# the good rows give the same values as the clean file's first 39 bars
head -n 40 "$T/day.csv" >"$T/clean40"
check 'cmp -s "$T/clean40" "$T/bad.out"' "values after skipped rows differ from the clean run"

# ---- errors ----
"$BIN" ta --data "$T/missing.csv" >/dev/null 2>"$T/e1"; rc=$?
check '[ $rc -eq 2 ] && grep -q "cannot open" "$T/e1"' "missing file: exit $rc"
"$BIN" ta --data "$DAY" --indicators rsi_14,nope_3 >/dev/null 2>"$T/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "nope_3" "$T/e2"' "unknown indicator: exit $rc"
"$BIN" ta --data "$DAY" --format xml >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "bad format: exit $rc"
"$BIN" ta >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "no --data: exit $rc"
# every error is one line on stderr, nothing on stdout, exit 2
: >"$T/empty.csv"
head -n 1 "$DAY" >"$T/hdr.csv"
i=0
for args in "--data $T/missing.csv" "--data $T/empty.csv" "--data $T/hdr.csv" "--data $T" \
    "--data $DAY --indicators nope_3" "--data $DAY --indicators rsi_1" \
    "--data $DAY --indicators ," \
    "--data $DAY --format xml" "--list --format xml" "--indicators rsi_14" "--data" "--bogus"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    "$BIN" ta $args >"$T/o$i" 2>"$T/e$i"; rc=$?
    check '[ $rc -eq 2 ] && [ "$(wc -l <"$T/e$i")" -eq 1 ] && [ ! -s "$T/o$i" ]' \
        "ta $args: exit $rc, stdout $(wc -c <"$T/o$i") bytes, stderr: $(cat "$T/e$i")"
done
check 'grep -q "no bars" "$T/e2" && grep -q "no bars" "$T/e3"' "empty input message: $(cat "$T/e2")"
check 'grep -q "csv or json" "$T/e9"' "--list --format xml: $(cat "$T/e9")"
# a file of bad rows only: exit 1, nothing on stdout
printf '1670889600000,1,2,3,4,5\nx,1,1,1,1,1\n' >"$T/allbad.csv"
"$BIN" ta --data "$T/allbad.csv" >"$T/ab.out" 2>/dev/null; rc=$?
check '[ $rc -eq 1 ] && [ ! -s "$T/ab.out" ]' \
    "only bad rows: exit $rc, $(wc -c <"$T/ab.out") bytes out"

# ---- --indicators: specs give all outputs, column names one ----
"$BIN" ta --data "$DAY" --indicators "bb_20_2,macd_signal_12_26_9,ichimoku" >"$T/sel.csv"; rc=$?
check '[ $rc -eq 0 ]' "--indicators exit $rc"
check '[ "$(head -n 1 "$T/sel.csv")" = "open_time_ms,bb_upper_20_2,bb_middle_20_2,bb_lower_20_2,bb_pctb_20_2,bb_width_20_2,macd_signal_12_26_9,ichimoku_tenkan_9_26_52_26,ichimoku_kijun_9_26_52_26,ichimoku_senkou_a_9_26_52_26,ichimoku_senkou_b_9_26_52_26,ichimoku_chikou_9_26_52_26" ]' "selected header: $(head -n 1 "$T/sel.csv")"
check '[ "$(cut -d, -f7 "$T/sel.csv" | sed -n 200p)" = "$(cut -d, -f6 "$T/day.csv" | sed -n 200p)" ]' "macd_signal column differs from the default run"

# ---- --list ----
"$BIN" ta --list >"$T/list" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "--list exit $rc"
check '[ "$(grep -c -E "^(sma|ema|wma|dema|tema|kama|hma|rsi|stochrsi|macd|bb|atr|natr|stoch|stochf|adx|aroon|cci|mfi|obv|vwap|roc|mom|willr|sar|ichimoku|keltner|donchian|supertrend|cmf|trix|ultosc|stddev|zscore|linreg_slope|rvol) " "$T/list")" -eq 36 ]' "--list misses indicators"
check 'grep -q "^rsi .*period=14.*rsi_14 \[30 70\]" "$T/list"' "--list rsi line: $(grep '^rsi ' "$T/list")"
check 'grep -q "^macd .*fast=12 slow=26 signal=9" "$T/list"' "--list macd line"

# ---- --format json: one object per line, null in warm-up, same numbers as csv ----
"$BIN" ta --data "$DAY" --format json >"$T/day.json"; rc=$?
check '[ $rc -eq 0 ]' "json exit $rc"
check '[ "$(wc -l <"$T/day.json")" -eq 1440 ]' "json lines: $(wc -l <"$T/day.json")"
check 'head -n 1 "$T/day.json" | grep -q "^{\"open_time_ms\":1670889600000,\"sma_20\":null,"' "json first line: $(head -c 120 "$T/day.json")"
v_csv=$(sed -n 101p "$T/day.csv" | cut -d, -f4)
check 'sed -n 100p "$T/day.json" | grep -q "\"rsi_14\":$v_csv,"' "json rsi_14 at bar 100 differs from csv ($v_csv)"
if command -v python3 >/dev/null 2>&1; then
    check 'python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$T/day.json"' "json does not parse"
fi

# ---- one pipeline: the rows reach the indicators through klines -> ingest -> market ----
# The month has missing minutes; the market model fills them on the chart, but `kestrel ta`
# computes over the file's rows only (45,031 of them, as TA-Lib would).
gaps=$(zcat "$PERP" | awk -F, 'NR > 1 && p && $1 - p > 60000 { g++ } { p = $1 } END { print g + 0 }')
check '[ "$gaps" -gt 0 ]' "the perp month was expected to have gaps ($gaps)"
check '[ "$(cut -d, -f1 "$T/perp.csv" | tail -n +2 | sort -u | wc -l)" -eq 45031 ]' "gap-filled bars leaked into the rows"
# recorded float noise in volumes (more than 8 decimals) is rounded to 1e-8 and said so
"$BIN" ta --data "$PERP" --indicators obv >/dev/null 2>"$T/perp.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "6 row(s) had values with more than 8 decimals, rounded to 1e-8" "$T/perp.err"' "rounded volumes note: exit $rc, $(cat "$T/perp.err")"
# a row not aligned to the interval, and a price of 0, are refused by the one reader
{ head -n 11 "$DAY"; echo "1670890230000,17200,17210,17190,17195,1.5"; echo "1670890260000,0,17210,0,17195,1.5"; sed -n 12,20p "$DAY"; } >"$T/align.csv"
"$BIN" ta --data "$T/align.csv" --indicators obv >"$T/align.out" 2>"$T/align.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q ":12: bad row (open_time_ms 1670890230000 not aligned to the 1m interval)" "$T/align.err" && grep -q ":13: bad row (a price <= 0)" "$T/align.err"' "alignment/zero price: exit $rc, $(cat "$T/align.err")"
check '[ "$(wc -l <"$T/align.out")" -eq 20 ]' "aligned rows kept: $(wc -l <"$T/align.out")"
# bad rows inside the reader's look-ahead (the first lines) are reported in file order
{ head -n 1 "$DAY"; echo "x,1,1,1,1,1"; sed -n 2,12p "$DAY"; } >"$T/early.csv"
"$BIN" ta --data "$T/early.csv" --indicators obv >/dev/null 2>"$T/early.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q ":2: bad row" "$T/early.err"' "early bad row: exit $rc, $(cat "$T/early.err")"
# --interval: given, checked, and refused when it is not a timeframe
"$BIN" ta --data "$DAY" --interval 1m --indicators obv >"$T/i1.out"; rc=$?
check '[ $rc -eq 0 ] && [ "$(wc -l <"$T/i1.out")" -eq 1441 ]' "--interval 1m: exit $rc"
"$BIN" ta --data "$DAY" --interval 5m --indicators obv >"$T/i5.out" 2>"$T/i5.err"; rc=$?
check '[ $rc -eq 1 ] && [ "$(grep -c "not aligned to the 5m interval" "$T/i5.err")" -eq 1152 ]' "--interval 5m on 1m rows: exit $rc, $(grep -c 'not aligned' "$T/i5.err") refused"
"$BIN" ta --data "$DAY" --interval 3m >/dev/null 2>"$T/i3.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "1s 1m 5m 15m 1h 4h 1d" "$T/i3.err"' "--interval 3m: exit $rc"

# ---- output: shortest exact decimals, ISO time ----
# every number is the shortest decimal that reads back as the same double: nothing with 17
# significant digits where 15 or 16 give the same value
short_bad=$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "") {
        v = $i; s = sprintf("%.15g", v + 0); t = sprintf("%.16g", v + 0)
        if ((s + 0 == v + 0 && length(s) < length(v)) || (t + 0 == v + 0 && length(t) < length(v))) n++ } }
    END { print n + 0 }' "$T/day.csv")
check '[ "$short_bad" -eq 0 ]' "values not in their shortest form: $short_bad"
"$BIN" ta --data "$DAY" --indicators sma_1 | sed -n 2p >"$T/sma1"
check '[ "$(cut -d, -f2 "$T/sma1")" = "$(sed -n 2p "$DAY" | cut -d, -f5)" ]' "sma_1 is the close, shortest: $(cat "$T/sma1") vs $(sed -n 2p "$DAY")"
"$BIN" ta --data "$DAY" --indicators obv --iso-time >"$T/iso.csv"; rc=$?
check '[ $rc -eq 0 ] && [ "$(head -n 1 "$T/iso.csv")" = "open_time_ms,time,obv" ]' "iso header: $(head -n 1 "$T/iso.csv")"
check '[ "$(sed -n 2p "$T/iso.csv" | cut -d, -f2)" = "2022-12-13T00:00:00Z" ] && [ "$(tail -n 1 "$T/iso.csv" | cut -d, -f2)" = "2022-12-13T23:59:00Z" ]' "iso times: $(sed -n 2p "$T/iso.csv")"
"$BIN" ta --data "$DAY" --indicators obv --iso-time --format json | head -n 1 >"$T/iso.json"
check 'grep -q "^{\"open_time_ms\":1670889600000,\"time\":\"2022-12-13T00:00:00Z\",\"obv\":" "$T/iso.json"' "iso json: $(cat "$T/iso.json")"

# ---- --list: aligned, and says which names are columns and which are specs ----
# the SPEC column starts at the same offset on every indicator line
offs=$(awk '/^(sma|macd|bb|ichimoku|stoch|obv) / { match($0, / (overlay|oscillator) +/); print RSTART + RLENGTH }' "$T/list" | sort -u | wc -l)
check '[ "$offs" -eq 1 ]' "--list SPEC column not aligned ($offs offsets)"
check 'grep -q "^macd .* macd_12_26_9\* .*macd_signal_12_26_9" "$T/list" && grep -q "^bb .* bb_20_2  " "$T/list"' "--list spec/column marks: $(grep -E '^(macd|bb) ' "$T/list" | cut -c1-140)"
check 'grep -q "^SPEC: " "$T/list" && grep -q "macd_12_26_9 gives the MACD" "$T/list"' "--list legend"
# the bare name gives every output, as the legend says
"$BIN" ta --data "$DAY" --indicators macd >"$T/macd.csv"
check '[ "$(head -n 1 "$T/macd.csv")" = "open_time_ms,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9" ]' "bare macd: $(head -n 1 "$T/macd.csv")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
