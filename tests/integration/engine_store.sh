#!/bin/sh
# The signal engine's storage, through the binary on the real bundled replay (--speed 0, a 60 s
# horizon so signals are scored within the 11 minutes): every signal is a row of the signals
# table and is updated in place when scored; `kestrel export signals` has the contract's columns
# (CSV and JSON agree); n / accuracy / Brier / log loss / ECE recomputed from the exported
# signals equal `kestrel ctl metrics` (all-time and rolling); metrics documents are stored (the
# data-clock hour boundary of the replay, and at exit) and `kestrel export metrics` writes them;
# model state checkpoints are versioned in model_state, and after a kill -9 the next run (the
# next day's capture: later data) restores the newest committed version and replays the signals
# stored after it, so ctl metrics again equal the numbers recomputed from the export.
. tests/lib.sh
K="$KESTREL_BIN"
printf 'engine: { horizon = 60; state_interval = 60; };\n' > "$T/h.cfg"
finished() { "$K" ctl --socket "$1" status 2>/dev/null | grep -q '"finished":true'; }

# ---- one run: ctl metrics while it is up, then SIGTERM (the store is flushed) ----
"$K" --headless --speed 0 --config "$T/h.cfg" --db "$T/a.db" --socket "$T/a.sock" \
    --log "$T/a.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "the replay ends" wait_for 30 finished "$T/a.sock"
"$K" ctl --socket "$T/a.sock" metrics > "$T/m.json"
"$K" ctl --socket "$T/a.sock" status > "$T/s.json"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 0" test $rc -eq 0
check "signals were scored in the replay (60 s horizon)" \
    test "$(jget "$T/m.json" 'j["ensemble"]["all_time"]["n"]')" -gt 5
check "one row per signal made" \
    eq "$(sqlite3 "$T/a.db" 'select count(*) from signals')" "$(jget "$T/s.json" 'j["trading"]["signals"]')"
check "scored rows were updated in place (no duplicates)" \
    eq "$(sqlite3 "$T/a.db" 'select count(*) from (select distinct symbol, sig_id, time_ms from signals)')" \
    "$(sqlite3 "$T/a.db" 'select count(*) from signals')"

"$K" export signals --format csv --db "$T/a.db" > "$T/sig.csv"
check "export signals csv: exit 0" test $? -eq 0
"$K" export signals --format json --db "$T/a.db" > "$T/sig.json"
check "export signals json: exit 0" test $? -eq 0
check "the CSV has the contract's columns first" \
    eq "$(head -1 "$T/sig.csv" | cut -d, -f1-14)" \
    "id,time,symbol,horizon_end,action,p_buy,p_hold,p_sell,confidence,strength,outcome,result,return,scored"
check "CSV and JSON exports agree row for row" python3 -c '
import csv,json,sys
c=list(csv.DictReader(open(sys.argv[1]))); j=json.load(open(sys.argv[2]))
assert len(c)==len(j)>0, (len(c),len(j))
for a,b in zip(c,j):
    assert int(a["id"])==b["id"] and a["time"]==b["time"] and a["action"]==b["action"], (a,b)
    for k in "p_buy p_hold p_sell confidence strength".split(): assert float(a[k])==b[k], k
    assert (a["scored"]=="1")==b["scored"], (a,b)
    if b["scored"]: assert a["outcome"]==b["outcome"] and float(a["return"])==b["return"]
    else: assert b["outcome"] is None and a["outcome"]==""' "$T/sig.csv" "$T/sig.json"
check "metrics recomputed from the export equal ctl metrics (all-time and rolling)" python3 -c '
import csv,json,math,sys
m=json.load(open(sys.argv[2])); sym=m["symbol"]
rows=[r for r in csv.DictReader(open(sys.argv[1])) if r["symbol"]==sym and r["scored"]=="1"]
K={"SELL":0,"HOLD":1,"BUY":2}
def stats(rs):
    n=len(rs); acc=br=ll=0.0; bn=[0]*10; bh=[0]*10; bc=[0.0]*10
    for r in rs:
        p=[float(r["p_sell"]),float(r["p_hold"]),float(r["p_buy"])]; o=K[r["outcome"]]
        hit=r["action"]==r["outcome"]; acc+=hit
        br+=sum((p[k]-(k==o))**2 for k in range(3)); ll+=-math.log(max(p[o],1e-15))
        c=float(r["confidence"]); b=0 if not c>0 else min(int(c*10),9)
        bn[b]+=1; bh[b]+=hit; bc[b]+=c
    ece=sum(bn[b]/n*abs(bh[b]/bn[b]-bc[b]/bn[b]) for b in range(10) if bn[b])
    return {"n":n,"accuracy":acc/n,"brier":br/n,"log_loss":ll/n,"ece":ece}
for win,rs in (("all_time",rows),("rolling",rows[-500:])):
    want=m["ensemble"][win]; got=stats(rs)
    assert want["n"]==got["n"], (win,want["n"],got["n"])
    for k in "accuracy brier log_loss ece".split():
        assert abs(want[k]-got[k])<=1e-12, (win,k,want[k],got[k])
print("   n =",len(rows),"accuracy",round(stats(rows)["accuracy"],4))' "$T/sig.csv" "$T/m.json"
check "the adaptive-weights model is honest on the real replay: log loss not above the majority prior's, ensemble ECE < 0.5 (was 5.9 / 0.88)" python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))
w=m["models"]["weights"]; b=m["baselines"]["majority"]; e=m["ensemble"]["all_time"]
assert w["n"]==b["n"]>0 and w["log_loss"]<=b["log_loss"]+1e-3, (w["log_loss"],b["log_loss"])
assert e["log_loss"]<1.0 and e["ece"]<0.5, e' "$T/m.json"
check "models and baselines in ctl metrics carry n, accuracy, brier, log_loss, ece" python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))
for grp in ("models","baselines"):
    assert m[grp], grp
    for name,v in m[grp].items():
        s=v.get("all_time",v)
        for k in "n accuracy brier log_loss ece".split(): assert k in s, (grp,name,k)' "$T/m.json"
check "metrics stored: the hour boundary of the replay's data clock and the exit" \
    test "$(sqlite3 "$T/a.db" 'select count(*) from metrics')" -ge 2
"$K" export metrics --format csv --db "$T/a.db" > "$T/met.csv"
check "export metrics csv: the last document's ensemble n equals ctl metrics" python3 -c '
import csv,json,sys
m=json.load(open(sys.argv[2]))
r=[x for x in csv.DictReader(open(sys.argv[1])) if x["predictor"]=="ensemble" and x["window"]=="all_time"]
assert r and int(r[-1]["n"])==m["ensemble"]["all_time"]["n"], (r[-1:], m["ensemble"]["all_time"]["n"])
assert any(x["predictor"].startswith("baseline:majority") for x in csv.DictReader(open(sys.argv[1])))' \
    "$T/met.csv" "$T/m.json"
"$K" export metrics --format json --db "$T/a.db" > "$T/met.json"
check "export metrics json: documents with time, symbol and the ctl metrics shape" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert len(d)>=2 and all("time" in x and x["metrics"]["ensemble"]["all_time"]["n"]>=0 for x in d)' \
    "$T/met.json"
"$K" export nonsense --db "$T/a.db" > /dev/null 2>&1
check "export of an unknown kind: usage error (exit 2)" test $? -eq 2

# ---- a clean restart on later data: the metrics continue, restored pending signals update their
# rows when scored, every number is recomputable from the export of both runs, the reasons of a
# signal are in its row (and the screen reads older ones back from it) ----
"$K" --headless --exit-at-end --speed 0 --config "$T/h.cfg" --db "$T/a.db" --socket "$T/a.sock" \
    --log "$T/a2.log" --replay data/replay/btcusdt_20240809.gz > "$T/a2.json" 2>/dev/null
check "restart: the second run exits 0" test $? -eq 0
n1=$(jget "$T/m.json" 'j["ensemble"]["all_time"]["n"]')
check "restart: the state of the first run was restored" \
    test "$(jget "$T/a2.json" 'j["trading"]["model_state"]["restored_version"]')" -gt 0
"$K" export metrics --format json --db "$T/a.db" > "$T/met2.json"
"$K" export signals --format csv --db "$T/a.db" > "$T/sig2.csv"
check "restart: no stored row is left unscored past its horizon (restored pending rows were updated)" \
    eq "$(sqlite3 "$T/a.db" "select count(*) from signals where scored = 0 and horizon_end_ms <= (select max(time_ms) from signals)")" 0
check "restart: the metrics continue (all-time n of the last document = scored rows of both runs, > the first run's)" python3 -c '
import csv,json,math,sys
d=json.load(open(sys.argv[1])); m=d[-1]["metrics"]; n1=int(sys.argv[3])
rows=[r for r in csv.DictReader(open(sys.argv[2])) if r["scored"]=="1"]
K={"SELL":0,"HOLD":1,"BUY":2}
n=len(rows); acc=sum(r["action"]==r["outcome"] for r in rows)/n
ll=sum(-math.log(max(float(r[{0:"p_sell",1:"p_hold",2:"p_buy"}[K[r["outcome"]]]]),1e-15)) for r in rows)/n
a=m["ensemble"]["all_time"]
assert a["n"]==n and n>n1, (a["n"],n,n1)
assert abs(a["accuracy"]-acc)<=1e-12 and abs(a["log_loss"]-ll)<=1e-12, (a,acc,ll)
print("   n =",n,"after restart (first run:",n1,")")' "$T/met2.json" "$T/sig2.csv" "$n1"
check "restart: every signal row carries its reasons" \
    eq "$(sqlite3 "$T/a.db" "select count(*) from signals where reasons is null or reasons = ''")" 0
check "restart: the reasons column holds the scorer's texts" \
    test "$(sqlite3 "$T/a.db" "select count(*) from signals where reasons like '%order-flow%' or reasons like '%RSI%' or reasons like '%MA alignment%' or reasons like '%momentum%' or reasons like '%Bollinger%' or reasons like '%MACD%'")" -gt 0

# ---- model state: versioned checkpoints, kill -9, restored by the next run ----
check "checkpoints are versioned (at most 3 kept per symbol)" \
    test "$(sqlite3 "$T/a.db" 'select count(*) from model_state')" -ge 1 -a \
    "$(sqlite3 "$T/a.db" 'select count(*) from model_state')" -le 3
# checkpoints every 4 minutes of data: the last one is minutes before the kill, signals made and
# scored after it are only in the signals table
printf 'engine: { horizon = 60; state_interval = 240; };\n' > "$T/k.cfg"
"$K" --headless --speed 0 --config "$T/k.cfg" --db "$T/k.db" --socket "$T/k.sock" \
    --log "$T/k1.log" --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "kill -9 run: the replay ends" wait_for 30 finished "$T/k.sock"
ckpt() { [ "$(sqlite3 "$T/k.db" 'select count(*) from model_state' 2>/dev/null)" -ge 1 ]; }
check "a checkpoint is committed before the kill" wait_for 10 ckpt
made=$(jget "$T/s.json" 'j["trading"]["signals"]') # the same replay and horizon as the first run
rows() { [ "$(sqlite3 "$T/k.db" 'select count(*) from signals' 2>/dev/null)" -ge "$made" ]; }
check "every signal of the run is committed before the kill" wait_for 10 rows
kill -9 $pid; wait $pid 2>/dev/null
ver=$(sqlite3 "$T/k.db" 'select max(id) from model_state')
learned=$(sqlite3 "$T/k.db" "select count(*) from signals where scored = 1")
check "kill -9 run: every stored signal has its replay record" \
    eq "$(sqlite3 "$T/k.db" 'select count(*) from signals where replay is null')" 0
"$K" --headless --speed 0 --config "$T/k.cfg" --db "$T/k.db" --socket "$T/k.sock" \
    --log "$T/k2.log" --replay data/replay/btcusdt_20240809.gz > /dev/null 2>&1 &
pid=$!; PIDS="$PIDS $pid"
check "after kill -9: the next run's replay ends" wait_for 30 finished "$T/k.sock"
"$K" ctl --socket "$T/k.sock" metrics > "$T/km.json"
"$K" ctl --socket "$T/k.sock" status > "$T/k2.json"
kill -TERM $pid; wait $pid; rc=$?
check "after kill -9: the next run exits 0" test $rc -eq 0
check "after kill -9: the signals scored after the checkpoint were replayed from their rows" \
    test "$(jget "$T/k2.json" 'j["trading"]["model_state"]["replay_learned"]')" -gt 0
check "after kill -9: the log says how many were replayed" \
    grep -q "model state of BTCUSDT: [1-9][0-9]* signals stored after the checkpoint replayed ([1-9][0-9]* outcomes learned)" "$T/k2.log"
"$K" export signals --format csv --db "$T/k.db" > "$T/ksig.csv"
check "after kill -9: ctl metrics (all-time n, accuracy, brier, log_loss, ece of the ensemble; the baselines' n) equal the values recomputed from the export of both runs" python3 -c '
import csv,json,math,sys
m=json.load(open(sys.argv[2]))
rows=[r for r in csv.DictReader(open(sys.argv[1])) if r["scored"]=="1"]
K={"SELL":0,"HOLD":1,"BUY":2}
n=len(rows); acc=br=ll=0.0; bn=[0]*10; bh=[0]*10; bc=[0.0]*10
for r in rows:
    p=[float(r["p_sell"]),float(r["p_hold"]),float(r["p_buy"])]; o=K[r["outcome"]]
    hit=r["action"]==r["outcome"]; acc+=hit
    br+=sum((p[k]-(k==o))**2 for k in range(3)); ll+=-math.log(max(p[o],1e-15))
    c=float(r["confidence"]); b=0 if not c>0 else min(int(c*10),9)
    bn[b]+=1; bh[b]+=hit; bc[b]+=c
got={"n":n,"accuracy":acc/n,"brier":br/n,"log_loss":ll/n,
     "ece":sum(bn[b]/n*abs(bh[b]/bn[b]-bc[b]/bn[b]) for b in range(10) if bn[b])}
want=m["ensemble"]["all_time"]
assert want["n"]==n, ("all-time n", want["n"], "scored rows", n)
for k in "accuracy brier log_loss ece".split():
    assert abs(want[k]-got[k])<=1e-12, (k,want[k],got[k])
for name,v in m["baselines"].items():
    assert v.get("all_time",v)["n"]==n, ("baseline",name,v.get("all_time",v)["n"],n)
for name,v in m["models"].items(): assert 0<=v.get("all_time",v)["n"]<=n, ("model",name)
print("   n =",n)' "$T/ksig.csv" "$T/km.json"
check "after kill -9: the newest committed version is restored" \
    eq "$(jget "$T/k2.json" 'j["trading"]["model_state"]["restored_version"]')" "$ver"
check "after kill -9: the log says what was restored" \
    grep -q "model state of BTCUSDT restored: version $ver, .* [1-9][0-9]* outcomes learned" "$T/k2.log"
check "after kill -9: signals of both runs are in the table, scored ones too" \
    test "$(sqlite3 "$T/k.db" "select count(*) from signals where scored = 1")" -gt "$learned"
# a replay of earlier data than the stored state starts fresh (and says so)
"$K" --headless --exit-at-end --speed 0 --config "$T/h.cfg" --db "$T/k.db" --socket "$T/k.sock" \
    --log "$T/k3.log" --replay data/replay/btcusdt_20240808.gz > "$T/k3.json" 2>/dev/null
check "earlier data than the stored state: starts fresh" \
    eq "$(jget "$T/k3.json" 'j["trading"]["model_state"]["restored_version"]')" 0
check "earlier data than the stored state: the log says so" \
    grep -q "is from a later data time than this run's data; starting fresh" "$T/k3.log"
done_tests
