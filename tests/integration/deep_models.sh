#!/bin/sh
# The deep and tree models in the app on the real bundled replay (issue 12): LSTM, CNN and
# XGBoost beside the online models, a 10 s horizon, a signal every second and train_every = 20,
# at 30x speed so the learner thread's trainings come back while the replay still runs. Every
# training is a row of the retrains table (trigger, sizes, validation, accepted, the thread it
# ran on: the learner), a swapped-in network predicts afterwards (its later records carry its
# own out-of-sample log loss), XGBoost's walk-forward record has a held-out slice, `kestrel
# export retrains` writes them (CSV and JSON agree with the table), and ctl metrics says how
# many samples each model has.
. tests/lib.sh
K="$KESTREL_BIN"
cat > "$T/d.cfg" <<CFG
engine: { horizon = 10; signal_interval = 1; models = "weights,logreg,mlp,lstm,cnn,xgb";
          train_every = 20; };
CFG
finished() { "$K" ctl --socket "$1" status 2>/dev/null | grep -q '"finished":true'; }
"$K" --headless --speed 30 --config "$T/d.cfg" --db "$T/a.db" --socket "$T/a.sock" \
    --log "$T/a.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "the replay with the deep models ends" wait_for 120 finished "$T/a.sock"
"$K" ctl --socket "$T/a.sock" metrics > "$T/m.json"
"$K" ctl --socket "$T/a.sock" status > "$T/s.json"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 0" test $rc -eq 0
q() { sqlite3 "$T/a.db" "$1"; }
check "the networks trained on the learner thread (rows of retrains)" \
    test "$(q "select count(*) from retrains where kind in ('lstm','cnn') and thread = 'learner'")" -ge 2
check "no training ran inline on the main thread" eq "$(q "select count(*) from retrains where thread <> 'learner'")" 0
check "the LSTM's swap was applied (accepted) and it predicted afterwards (its own out-of-sample loss)" \
    test "$(q "select count(*) from retrains where kind = 'lstm' and accepted = 1 and seq >= 2 and live_logloss is not null and n_holdout > 0")" -ge 1
check "the LSTM trained on real samples (replay buffer >= 64)" \
    test "$(q "select max(n_train) from retrains where kind = 'lstm'")" -ge 64
check "XGBoost's walk-forward retrain: trigger, train / held-out slice, candidate vs prior" \
    test "$(q "select count(*) from retrains where kind = 'xgboost' and trigger = 'first' and n_train > 0 and n_holdout > 0 and cand_logloss is not null and base_logloss is not null")" -ge 1
check "ctl status counts the trainings" test "$(jget "$T/s.json" 'j["trading"]["model_trains"]')" -ge 2
check "ctl status counts the retrains stored (more may come back after it was asked)" \
    test "$(jget "$T/s.json" 'j["trading"]["model_state"]["retrains_written"]')" -ge 2 -a \
    "$(jget "$T/s.json" 'j["trading"]["model_state"]["retrains_written"]')" -le "$(q 'select count(*) from retrains')"
check "ctl metrics: every model says how many samples it has; the LSTM has predictions scored" python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))["models"]
for k in ("weights","logreg","mlp","lstm","cnn","xgb"): assert m[k]["samples"]>0, (k,m[k].get("samples"))
assert m["lstm"]["n"]>0 and m["lstm"]["samples"]>=m["lstm"]["n"], m["lstm"]' "$T/m.json"
check "ctl metrics: the logreg rule says which models it holds at zero weight, and why" python3 -c '
import json,sys
j=json.load(open(sys.argv[1])); m=j["models"]; w=j["weights"]
for k in ("weights","logreg","mlp"):
    assert m[k]["held_by_logreg_rule"] is False and m[k]["weight_reason"]!="held_by_logreg_rule", (k,m[k])
for k in ("lstm","cnn","xgb"):
    x=m[k]; held=x["held_by_logreg_rule"]; assert held in (True,False), x
    if held:
        assert w[k]==0 and x["weight_reason"]=="held_by_logreg_rule", (k,x,w[k])
        ll,bl=x["weight_log_loss"],x["logreg_log_loss"]
        assert x["weight_scored"]<10 or ll is None or bl is None or ll>=bl, (k,x)
    else:
        assert w[k]>0 and x["weight_reason"] in ("log_loss","prior") and "logreg_log_loss" not in x, (k,x,w[k])
        assert x["weight_scored"]>=10 and x["weight_log_loss"]<(m["logreg"]["weight_log_loss"] or 9), (k,x)' "$T/m.json"
"$K" export retrains --format csv --db "$T/a.db" > "$T/r.csv"
check "export retrains csv: exit 0" test $? -eq 0
"$K" export retrains --format json --db "$T/a.db" > "$T/r.json"
check "export retrains json: exit 0" test $? -eq 0
check "export retrains: CSV and JSON agree with the table" python3 -c '
import csv,json,sys
c=list(csv.DictReader(open(sys.argv[1]))); j=json.load(open(sys.argv[2])); n=int(sys.argv[3])
assert len(c)==len(j)==n>0, (len(c),len(j),n)
for a,b in zip(c,j):
    assert int(a["id"])==b["id"] and a["model"]==b["model"] and a["thread"]==b["thread"]=="learner"
    assert (a["accepted"]=="1")==b["accepted"] and int(a["n_train"])==b["n_train"]
    assert a["time"]==b["time"] and a["time"].startswith("2024-08-0")' "$T/r.csv" "$T/r.json" "$(q 'select count(*) from retrains')"
check "the log has a line per retrain" \
    eq "$(grep -c ' retrain [0-9]* (.*, learner thread): ' "$T/a.log")" "$(q 'select count(*) from retrains')"
# ---- warm-up before trading: a downloaded klines file (the real BTCBUSD day of 2022) ----
LEAN="$SHARED/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv"
cat > "$T/w.cfg" <<CFG
engine: { horizon = 60; models = "weights,logreg,mlp,lstm"; warmup = "$LEAN"; };
CFG
"$K" --headless --speed 0 --config "$T/w.cfg" --db "$T/w.db" --socket "$T/w.sock" \
    --log "$T/w.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "warm-up run: the replay ends" wait_for 120 finished "$T/w.sock"
histrain() { [ "$(sqlite3 "$T/w.db" "select count(*) from retrains where kind = 'lstm' and thread = 'learner' and time_ms < 1700000000000" 2>/dev/null)" -ge 1 ]; }
check "warm-up: the LSTM trained on the history on the learner thread" wait_for 60 histrain
"$K" ctl --socket "$T/w.sock" metrics > "$T/wm.json"
kill -TERM $pid; wait $pid
check "warm-up: ctl metrics says what history taught (1440 bars, every one a scored signal but the last)" python3 -c '
import json,sys
m=json.load(open(sys.argv[1])); w=m["warmup"]
assert w["bars"]==1440 and w["signals"]==1440 and w["scored"]+w["discarded"]==1440 and w["scored"]>=1400, w
for k in ("weights","logreg","mlp"): assert m["models"][k]["samples"]>=1440, (k,m["models"][k]["samples"])
assert m["models"]["lstm"]["samples"]>=1400, m["models"]["lstm"]
assert m["ensemble"]["all_time"]["n"]>=w["scored"], m["ensemble"]["all_time"]' "$T/wm.json"
check "warm-up: the history's signals are stored (source warmup), none traded, all before the first live one" \
    eq "$(sqlite3 "$T/w.db" "select count(*) from signals where source = 'warmup' and traded = 0 and time_ms < (select min(time_ms) from signals where source <> 'warmup')")" 1440
check "warm-up: the log says so" grep -q "BTCUSDT: the models warm up on 1440 history bars" "$T/w.log"
# ---- warm-up from the stored candles: the next run (later data) without a stored state ----
sqlite3 "$T/w.db" "delete from model_state"
stored=$(sqlite3 "$T/w.db" "select count(*) from candles where tf = '1m' and symbol = 'BTCUSDT' and open_ms + 60000 <= 1723161600000")
printf 'engine: { horizon = 60; };\n' > "$T/s.cfg"
"$K" --headless --exit-at-end --speed 0 --config "$T/s.cfg" --db "$T/w.db" --socket "$T/w.sock" \
    --log "$T/s.log" --replay data/replay/btcusdt_20240809.gz > /dev/null 2>&1
check "stored warm-up: the next run exits 0" test $? -eq 0
check "stored warm-up: the stored 1m candles of the first run were learned from (the log)" \
    grep -q "BTCUSDT: the models warm up on $stored history bars (stored candles)" "$T/s.log"
check "stored warm-up: there were some" test "$stored" -ge 3
# ---- screen 3 shows each off-thread model's last retrain (in tmux, the terminal UI) ----
if command -v tmux >/dev/null 2>&1; then
    tmux_init kestrel-deep
    case $K in /*) KA=$K ;; *) KA=$(pwd)/$K ;; esac
    $TM new-session -d -s d -x 170 -y 60 "$KA --speed 30 --config $T/d.cfg --db $T/u.db \
        --socket $T/u.sock --log $T/u.log --replay data/replay/btcusdt_20240808.gz"
    check "tmux: the replay with the deep models ends" wait_for 120 finished "$T/u.sock"
    urows() { [ "$(sqlite3 "$T/u.db" "select count(*) from retrains where kind = 'lstm'" 2>/dev/null)" -ge 2 ]; }
    check "tmux: the LSTM's retrains are stored" wait_for 30 urows
    $TM send-keys -t d 3
    shown() { $TM capture-pane -p -t d > "$T/u.screen" 2>/dev/null; grep -q "lstm #[0-9]" "$T/u.screen"; }
    check "screen 3 shows the LSTM's last retrain" wait_for 20 shown
    # the row is committed by the store's writer a moment after the screen shows it
    same_row() { $TM capture-pane -p -t d > "$T/u.screen" 2>/dev/null; python3 -c '
import re,sqlite3,sys
scr=open(sys.argv[1]).read(); db=sqlite3.connect(sys.argv[2])
m=re.search(r"lstm #(\d+) \S+ (\w+) (\d+)/(\d+) (accepted|refused) \((learner|inline)\)", scr)
assert m, "no retrain line"
row=db.execute("select seq, trigger, n_train, n_holdout, accepted, thread from retrains where kind = ? and seq = ?", ("lstm", int(m.group(1)))).fetchone()
assert row, m.group(0)
assert (str(row[0]),row[1],str(row[2]),str(row[3]),"accepted" if row[4] else "refused",row[5])==m.groups(), (m.groups(),row)
sm=" ".join(" ".join(re.findall(r"(?:samples:| {8})((?: [a-z]+ \d+)+)", scr)).split())
assert re.fullmatch(r"weights \d+ logreg \d+ mlp \d+ lstm \d+ cnn \d+ xgb \d+", sm), sm
assert re.search(r"  logl cand \S+ live \S+ base \S+", scr), "validation line"' "$T/u.screen" "$T/u.db" 2>/dev/null; }
    check "... its sequence, trigger, sizes and verdict are the stored row's; samples and validation shown" wait_for 15 same_row
    "$K" ctl --socket "$T/u.sock" metrics > "$T/um.json"
    held_shown() { $TM capture-pane -p -t d > "$T/u.screen" 2>/dev/null; python3 -c '
import json,re,sys
scr=open(sys.argv[1]).read(); w=json.load(open(sys.argv[2]))["warmup"]
m=re.search(r"held live data: (\d+) \((\d+) applied, (\d+) waiting\)", scr)
k=re.search(r"dropped past 4096: (\d+) \((\d+) bars, (\d+) trades\)", scr)
assert m and k, "no held lines"
d=w["live_dropped"]
assert tuple(map(int,m.groups()+k.groups()))==(w["live_held"],w["live_applied"],w["live_waiting"],d["bars"]+d["trades"]+d["funding"],d["bars"],d["trades"]), (m.groups(),k.groups(),w)
assert w["live_held"]>=1' "$T/u.screen" "$T/um.json" 2>/dev/null; }
    check "screen 3 says what live data waited for the warm-up (ctl metrics warmup.live_*)" wait_for 15 held_shown
    $TM kill-server >/dev/null 2>&1
else
    bad "tmux is needed for the screen check"
fi
done_tests
