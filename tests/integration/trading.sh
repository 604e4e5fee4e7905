#!/bin/sh
# Trading in the app, through the binary: the runner that `kestrel backtest` runs is the one the
# app subscribes (parity: the same signal digest on the same capture); manual paper orders over
# the control socket go through the risk engine and the paper broker and are filled against the
# replayed book; positions, fills (the contract's fields), portfolio (net of fees), close,
# close-all (halts new entries), start (resumes); fills reach the store's durable lane and
# `kestrel export fills` writes them back as CSV and JSON.
. tests/lib.sh
CAP=data/replay/btcusdt_20240808.gz,data/replay/btcusdt_20240809.gz
printf 'engine: { auto_trade = true; };\n' > "$T/auto.cfg"

# ---- parity: --replay with auto-trading on == kestrel backtest of the same capture ----
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --config "$T/auto.cfg" --db "$T/p.db" \
    --socket "$T/p.sock" --replay "$CAP" > "$T/p.json" 2>/dev/null
check "replay with auto-trading: exit 0" test $? -eq 0
check "replay with auto-trading: the status says so" \
    eq "$(jget "$T/p.json" 'j["trading"]["auto_trading"]')" "True"
check "replay: signals every 30 s of data (11 minutes: > 15)" \
    test "$(jget "$T/p.json" 'j["trading"]["signals"]')" -gt 15
"$KESTREL_BIN" backtest --data "$CAP" --symbol BTCUSDT --venue binance-spot --db "$T/bt.db" \
    --json "$T/bt.json" > "$T/bt.txt" 2>&1
check "backtest of the same capture: exit 0" test $? -eq 0
check "parity: the same signals (digest) in the app's replay and in the backtest" \
    eq "$(jget "$T/p.json" 'j["trading"]["signal_digest"]')" "$(jget "$T/bt.json" 'j["signal_digest"]')"

# ---- manual orders against the replayed book ----
"$KESTREL_BIN" --headless --speed 1 --db "$T/m.db" --socket "$T/m.sock" \
    --replay data/replay/btcusdt_20240808.gz > /dev/null 2>"$T/m.err" &
PIDS="$PIDS $!"
ctl() { "$KESTREL_BIN" ctl --socket "$T/m.sock" "$@"; }
live() { [ "$(ctl status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["symbols"][0]["book_state"])' 2>/dev/null)" = live ]; }
check "the book syncs" wait_for 20 live
ctl order BTCUSDT buy 0.01 > "$T/o1.json" 2>"$T/o1.err"
check "order buy 0.01: accepted with a client id" test -n "$(jget "$T/o1.json" 'j["id"]')"
filled() { [ "$(ctl fills | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["fills"]))')" -ge "$1" ]; }
check "the order fills (after the paper latency on the data clock)" wait_for 20 filled 1
ctl fills > "$T/f.json"
check "a fill has the contract's fields" python3 -c '
import json,sys
f=json.load(open(sys.argv[1]))["fills"][0]
need="id order_id trade_id time symbol side price qty fee fee_asset liquidity".split()
assert all(k in f for k in need), f
assert f["side"]=="buy" and f["qty"]=="0.01000" and f["symbol"]=="BTCUSDT", f
assert float(f["fee"])>0 and f["fee_asset"]=="USDT" and f["liquidity"]=="taker", f
assert all(isinstance(f[k],str) for k in ("price","qty","fee","trade_id")), f' "$T/f.json"
ctl positions > "$T/pos.json"
check "the position is open, quantities as strings" python3 -c '
import json,sys
p=json.load(open(sys.argv[1]))["positions"]
assert len(p)==1 and p[0]["symbol"]=="BTCUSDT" and p[0]["qty"].startswith("0.01"), p
for k in "symbol side qty entry mark upnl realised_pnl sl tp opened dust".split(): assert k in p[0], k' "$T/pos.json"
ctl portfolio > "$T/pf.json"
check "portfolio: fees paid, equity = cash + position value - nothing else" python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
for k in "equity cash realised_pnl unrealised_pnl fees funding day_pnl peak_equity drawdown".split(): assert k in j, k
assert float(j["fees"])>0 and float(j["cash"])<10000, j' "$T/pf.json"
ctl order BTCUSDT buy 50 > "$T/big.json" 2>&1
check "an oversized order is refused (exit $?) naming the rule and the numbers" \
    grep -q "exposure .* > 30% of equity .* (max " "$T/big.json"
ctl close BTCUSDT > "$T/c.json" 2>"$T/c.err"
check "close: sent" eq "$(jget "$T/c.json" 'j["closing"]')" "True"
check "the close fills" wait_for 20 filled 2
flat() { [ "$(ctl positions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["positions"]))')" = 0 ]; }
check "flat after the close" flat
ctl order BTCUSDT buy 0.01 > /dev/null 2>&1
wait_for 20 filled 3
ctl close-all > "$T/ca.json"
check "close-all: one position closing, risk halted" \
    eq "$(jget "$T/ca.json" 'j["closing"]'):$(ctl risk | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" "1:HALTED"
check "close-all's close fills" wait_for 20 filled 4
ctl order BTCUSDT buy 0.01 > "$T/halted.json" 2>&1
check "halted: a new entry is refused" grep -qi 'halt' "$T/halted.json"
ctl start > /dev/null
check "start resumes" eq "$(ctl risk | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" "ACTIVE"
ctl quit > /dev/null
wait_for 20 sh -c "! $KESTREL_BIN ctl --socket $T/m.sock status >/dev/null 2>&1"

# ---- the store kept every fill ----
"$KESTREL_BIN" export fills --db "$T/m.db" --format csv > "$T/fills.csv"
check "export csv: exit 0" test $? -eq 0
check "export csv: the contract's header" \
    eq "$(head -n 1 "$T/fills.csv")" "id,order_id,trade_id,time,symbol,side,price,qty,fee,fee_asset,liquidity"
check "export csv: the four fills" eq "$(tail -n +2 "$T/fills.csv" | wc -l | tr -d ' ')" "4"
"$KESTREL_BIN" export fills --db "$T/m.db" --format json > "$T/fills.json"
check "export json: the same four fills" eq "$(jget "$T/fills.json" 'len(j)')" "4"
"$KESTREL_BIN" export nope --db "$T/m.db" > /dev/null 2>&1
check "export: a bad kind is a usage error (exit 2)" test $? -eq 2

# ---- screen 2 shows the paper account (the real TUI in a private tmux server) ----
tmux_init kestrel-trading
$TM new-session -d -x 120 -y 40 "$KESTREL_BIN --db $T/u.db --socket $T/u.sock --replay data/replay/btcusdt_20240808.gz"
uctl() { "$KESTREL_BIN" ctl --socket "$T/u.sock" "$@"; }
ulive() { [ "$(uctl status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["symbols"][0]["book_state"])' 2>/dev/null)" = live ]; }
check "TUI: the book syncs" wait_for 20 ulive
uctl order BTCUSDT buy 0.01 > /dev/null
ufilled() { [ "$(uctl fills | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["fills"]))')" -ge 1 ]; }
check "TUI: the order fills" wait_for 20 ufilled
$TM send-keys 2
shows() { $TM capture-pane -p | grep -q "$1"; }
check "screen 2: the open position (the positions table: symbol, side, qty, entry, mark)" \
    wait_for 10 shows "BTCUSDT long  *0.01  *[0-9][0-9.]*  *[0-9][0-9.]* "
fees=$(uctl portfolio | python3 -c 'import json,sys; print(json.load(sys.stdin)["fees"])')
check "screen 2: the fees paid, whole, as ctl portfolio says ($fees)" \
    sh -c "$TM capture-pane -p | grep 'fees paid' | grep -q ' $fees'"
$TM send-keys q y
$TM kill-server 2>/dev/null
# engine.models: the deep / tree models join each symbol's engine, their training on the
# learner thread (started and stopped with the runner); an unknown name is a config error
printf 'engine: { models = "weights,logreg,mlp,cnn,xgb"; };\n' > "$T/deep.cfg"
"$KESTREL_BIN" --headless --speed 1 --config "$T/deep.cfg" --db "$T/deep.db" \
    --socket "$T/deep.sock" --log "$T/deep.log" --replay data/replay/btcusdt_20240808.gz &
dpid=$!
dctl() { "$KESTREL_BIN" ctl --socket "$T/deep.sock" "$@"; }
dmodels() { dctl metrics 2>/dev/null | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"]; sys.exit(0 if {"cnn","xgb","mlp"} <= set(m) else 1)' 2>/dev/null; }
check "engine.models: cnn and xgb are in the ensemble's metrics" wait_for 30 dmodels
kill -TERM $dpid; wait $dpid; drc=$?
check "engine.models: the learner thread stops with the process (exit 0)" [ $drc -eq 0 ]
printf 'engine: { models = "weights,nope"; };\n' > "$T/baddeep.cfg"
"$KESTREL_BIN" --headless --config "$T/baddeep.cfg" --db "$T/bd.db" --socket "$T/bd.sock" \
    --replay data/replay/btcusdt_20240808.gz 2> "$T/bd.err"; brc=$?
check "engine.models: an unknown model is refused with file:line (exit 2)" \
    sh -c "[ $brc -eq 2 ] && grep -q 'baddeep.cfg:1: engine.models' '$T/bd.err'"
done_tests
