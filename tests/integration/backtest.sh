# `kestrel backtest` end to end on the shipped real kline data (and a real replay capture):
# report and schema, byte-identical reruns for a seed, P&L reconciling exactly with the trades,
# always-buy equal to buy-and-hold minus fees, walk-forward folds, sharded sweeps merged equal to
# the single run, usage errors, no progress bar when stderr is not a terminal; results stored in
# the Kestrel database (the row equals the JSON report), export backtests.
. tests/lib.sh
# runs without --db store in the app's default database: here, inside the test's directory
export XDG_DATA_HOME="$T/xdg"
K="$KESTREL_BIN"
LEAN="$SHARED/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv"
PERP="$SHARED/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz"

# 1. the 45,031-bar perpetual file, two days of it, end to end
"$K" backtest --data "$PERP" --from 2022-01-06 --to 2022-01-08 --json "$T/perp.json" \
    > "$T/perp.txt" 2> "$T/perp.err"
check "perp: exit 0" [ $? -eq 0 ]
check "perp: 2880 bars of the range" eq "$(jget "$T/perp.json" 'j["bars"]')" 2880
check "perp: text report names the verdicts" grep -q "verdict: " "$T/perp.txt"
check "perp: no progress bar when stderr is not a terminal" [ ! -s "$T/perp.err" ]
check "perp: the engine made signals and scored them" \
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); m=j["metrics"]["ensemble"]
assert j["signals"] > 1000 and m["n"] > 1000 and 0 <= m["accuracy"] <= 1' "$T/perp.json"

# 11. terminal plots in the report, drawn from data in the JSON that reconciles with the rest
check "plots: the four plots are in the text report" sh -c "grep -q 'equity curve (' '$T/perp.txt' &&
    grep -q 'reliability (ensemble' '$T/perp.txt' && grep -q 'returns per month' '$T/perp.txt' &&
    grep -q 'trade P&L distribution' '$T/perp.txt'"
check "plots: monthly returns compound to the return, bins hold every scored signal" python3 -c '
import json, sys, math, re
j = json.load(open(sys.argv[1]))
prod = 1.0
for m in j["monthly_returns"]: prod *= 1 + m["return"]
assert abs((prod - 1) - j["return"]) < 1e-9, (prod - 1, j["return"])
assert [m["month"] for m in j["monthly_returns"]] == ["2022-01"]
rel = j["metrics"]["ensemble"]["reliability"]
assert len(rel) == 10 and sum(b["n"] for b in rel) == j["metrics"]["ensemble"]["n"]
eq = j["equity_curve"]
assert 2 <= len(eq) <= 120 and eq[-1]["t"] == j["to"]
assert all(p["peak"] >= p["equity"] for p in eq)
txt = open(sys.argv[2]).read()
rows = re.findall(r"^    \[ *\S+, *\S+[)\]] +(\d+) ", txt, re.M)
assert sum(map(int, rows)) == j["trade_count"], (rows, j["trade_count"])
' "$T/perp.json" "$T/perp.txt"

# 2. the schema's fields
check "schema: top level, trades, metrics, baselines, verdicts" python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
for k in ("bars","net_pnl","fees","trades","metrics","baselines","verdicts","seed","intervals"):
    assert k in j, k
for t in j["trades"]:
    for k in ("entry_time","exit_time","side","qty","entry","exit","pnl","fee"): assert k in t, k
    assert t["side"] in ("long","short")
for name, m in [("ensemble", j["metrics"]["ensemble"])] + list(j["metrics"]["models"].items()):
    for k in ("n","accuracy","f1","brier","log_loss","ece","weight"): assert k in m, (name, k)
assert set(j["metrics"]["models"]) == {"weights","logreg","mlp"}
for b in ("buy_and_hold","rules","rsi","always_hold","random"):
    assert "return" in j["baselines"][b], b
for k in ("return","sharpe","accuracy"):
    ci=j["intervals"][k]; assert ci["lo"] <= ci["estimate"] <= ci["hi"], k
assert all(isinstance(v,str) for v in j["verdicts"]) and len(j["verdicts"]) >= 5
' "$T/perp.json"

# 3. the same seed gives the same report byte for byte (text and JSON)
"$K" backtest --data "$PERP" --from 2022-01-06 --to 2022-01-08 --json "$T/perp2.json" \
    > "$T/perp2.txt" 2>/dev/null
check "same seed: identical JSON" cmp -s "$T/perp.json" "$T/perp2.json"
check "same seed: identical text" cmp -s "$T/perp.txt" "$T/perp2.txt"
"$K" backtest --data "$PERP" --from 2022-01-06 --to 2022-01-08 --seed 7 --json "$T/perp7.json" \
    > /dev/null 2>&1
check "another seed: the seed is in the report" eq "$(jget "$T/perp7.json" 'j["seed"]')" 7

# 4. P&L reconciles exactly (kdec strings): net = sum of trade pnl (after fees), fees = sum
reconcile() {
    python3 -c '
import json,sys
from decimal import Decimal as D
j=json.load(open(sys.argv[1]))
assert len(j["trades"]) >= int(sys.argv[2]), len(j["trades"])
assert D(j["net_pnl"]) == sum((D(t["pnl"]) for t in j["trades"]), D(0)), "net"
assert D(j["fees"]) == sum((D(t["fee"]) for t in j["trades"]), D(0)), "fees"
assert D(j["end_equity"]) - D(j["start_equity"]) == D(j["net_pnl"])
for t in j["trades"]:
    q, e, x = D(t["qty"]), D(t["entry"]), D(t["exit"])
    g = (x - e) * q if t["side"] == "long" else (e - x) * q
    assert abs(g - D(t["fee"]) - D(t["pnl"])) <= D("0.00000002"), t
' "$@"
}
check "reconcile: engine trades on the perp range" reconcile "$T/perp.json" 1
"$K" backtest --data "$LEAN" --strategy rules --json "$T/rules.json" > /dev/null 2>&1
check "reconcile: rule-scorer trades on the lean day" reconcile "$T/rules.json" 3

# 5. a strategy forced to always buy equals buy-and-hold minus fees
"$K" backtest --data "$LEAN" --strategy always_buy --set risk.size_mode=fixed_quote \
    --json "$T/ab.json" > /dev/null 2>&1
check "always-buy: one trade, the whole day" eq "$(jget "$T/ab.json" 'len(j["trades"])')" 1
check "always-buy == buy-and-hold - fees" python3 -c '
import json,sys
from decimal import Decimal as D
j=json.load(open(sys.argv[1])); b=j["baselines"]["buy_and_hold"]; t=j["trades"][0]
assert D(j["net_pnl"]) == D(b["pnl"]), (j["net_pnl"], b["pnl"])
assert D(t["entry"]) == D(b["entry"]) and D(t["exit"]) == D(b["exit"]) and D(t["qty"]) == D(b["qty"])
g = (D(b["exit"]) - D(b["entry"])) * D(b["qty"])  # notionals are truncated to 1e-8 each
assert abs(D(b["pnl"]) - (g - D(b["fees"]))) <= D("0.00000002")
assert D(j["fees"]) == D(b["fees"]) > 0
' "$T/ab.json"

# 6. walk-forward: rolling folds, each test window after its train window, no overlap
"$K" backtest --data "$LEAN" --walk-forward 480:240 --json "$T/wf.json" > /dev/null 2>&1
check "walk-forward: 4 folds of 240 test bars, after their train windows" python3 -c '
import json,sys
j=json.load(open(sys.argv[1])); f=j["metrics"]["folds"]
assert len(f) == 4 and j["bars"] == 960, (len(f), j["bars"])
for a in f: assert a["bars"] == 240 and a["train_from"] < a["test_from"] <= a["test_to"]
for a, b in zip(f, f[1:]): assert b["test_from"] > a["test_to"]
assert "ensemble" in j["metrics"]
' "$T/wf.json"

# 7. sweeps: the grid on both cores, then the same grid in 3 shards merged: same statistics
SW="--data $LEAN --strategy rules --sweep engine.threshold=0.5,0.65 --sweep risk.atr_mult=1,1.5,2"
"$K" backtest $SW --json "$T/sw.json" > "$T/sw.txt" 2>&1
check "sweep: 6 configurations, DSR and PBO reported" python3 -c '
import json,sys
s=json.load(open(sys.argv[1]))["sweep"]
assert s["configurations"] == 6 and len(s["ranking"]) == 6
assert 0 <= s["dsr"] <= 1 and 0 <= s["pbo"] <= 1 and s["pbo_splits"] == 12870
r=[x["return"] for x in s["ranking"]]; assert r == sorted(r, reverse=True)
' "$T/sw.json"
for k in 1 2 3; do "$K" backtest $SW --shard $k/3 --json "$T/sw$k.json" > /dev/null 2>&1; done
"$K" backtest merge "$T/swm.json" "$T/sw1.json" "$T/sw2.json" "$T/sw3.json"
check "sweep: shards merged == the single run" python3 -c '
import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert a["sweep"] == b["sweep"] and a["sweep_results"] == b["sweep_results"]
' "$T/sw.json" "$T/swm.json"
check "sweep: a shard holds only its slice" eq "$(jget "$T/sw2.json" 'j["sweep"]["configurations"]')" 2

# 8. a replay capture through the same command (trade mode: the real book and prints)
"$K" backtest --data data/replay/btcusdt_20240808.gz --strategy rules \
    --set engine.threshold=0.2 --set engine.signal_interval=5 --json "$T/rp.json" > /dev/null 2>&1
check "capture: spot venue, fills from the book, reconciled" python3 -c '
import json,sys
from decimal import Decimal as D
j=json.load(open(sys.argv[1]))
assert j["venue"] == "binance-spot" and j["fills"] > 0
assert D(j["net_pnl"]) == sum((D(t["pnl"]) for t in j["trades"]), D(0))
assert all(t["side"] == "long" for t in j["trades"])
' "$T/rp.json"

# 9. usage errors
"$K" backtest > /dev/null 2>&1
check "no --data: exit 2" [ $? -eq 2 ]
"$K" backtest --data "$LEAN" --shard 3/2 > /dev/null 2>&1
check "bad --shard: exit 2" [ $? -eq 2 ]
"$K" backtest --data "$LEAN" --sweep nope.key=1,2 > /dev/null 2>&1
check "unknown sweep key: exit 2" [ $? -eq 2 ]
"$K" backtest --data /nonexistent.csv > /dev/null 2> "$T/ne.err"
check "missing file: exit 1 with the reason" sh -c "[ $? -eq 1 ] && grep -q nonexistent '$T/ne.err'"

# 10. funding for perpetuals from the shared funding files: every payment recomputed from the
# trades (position held at each funding time), the rate file and its mark file, exactly
FD="$SHARED/klines/funding"
"$K" backtest --data "$SHARED/klines/long/binance-usdm_BTCUSDT_1m_2023-07-18_2023-08-17.csv.gz" \
    --funding "$FD/alpergulsen_BTC_USDT_USDT-8h-funding_rate.csv" --no-baselines \
    --json "$T/fund.json" > /dev/null 2>&1
check "funding: exit 0" [ $? -eq 0 ]
check "funding: events passed, payments recomputed exactly, P&L reconciles" python3 -c '
import json, sys, csv
from decimal import Decimal as D
j = json.load(open(sys.argv[1]))
S = 10**8
def k(x): return int((D(x) * S).to_integral_value())
rates = [(int(r[0]), k(r[1])) for r in list(csv.reader(open(sys.argv[2])))[1:]]
marks = [(int(r[0]), k(r[1])) for r in list(csv.reader(open(sys.argv[3])))[1:]]
def mark_at(t): return [v for (mt, v) in marks if mt <= t][-1]
lo, hi = j["from"] - 60000, j["to"]
total = pays = 0
for t, rate in rates:
    if not (lo < t <= hi): continue
    for tr in j["trades"]:
        if tr["entry_time"] < t <= tr["exit_time"]:
            n = k(tr["qty"]) * (1 if tr["side"] == "long" else -1) * mark_at(t)
            n = n // S if n >= 0 else -((-n) // S)          # notional, truncated as C does
            raw = n * rate
            total += (raw + S - 1) // S if raw >= 0 else -((-raw) // S)  # against the trader
            pays += 1
assert j["funding_events"] == sum(1 for t, _ in rates if lo < t <= hi), j["funding_events"]
assert pays > 0 and D(j["funding"]) == D(total) / S, (j["funding"], D(total) / S, pays)
assert D(j["net_pnl"]) == sum((D(t["pnl"]) for t in j["trades"]), D(0))
' "$T/fund.json" "$FD/alpergulsen_BTC_USDT_USDT-8h-funding_rate.csv" \
    "$FD/alpergulsen_BTC_USDT_USDT-8h-mark.csv"
"$K" backtest --data "$LEAN" --funding /nonexistent-funding_rate.csv > /dev/null 2> "$T/nf.err"
check "funding: a missing file is a usage error with its name" \
    sh -c "[ $? -eq 2 ] && grep -q nonexistent-funding '$T/nf.err'"

# 12. --config is the app's configuration file (libconfig): its risk/paper/fees/engine groups
# apply exactly as the same --set keys do; the app's other groups are accepted and left alone;
# errors name file:line
cat > "$T/bt.cfg" <<'CFG'
# the live configuration's groups
ui: { theme = "mono"; };
engine: { signal_interval = 60; threshold = 0.5; auto_trade = false; };
paper: { latency_ms = 0; };
CFG
"$K" backtest --data "$LEAN" --config "$T/bt.cfg" --no-baselines --json "$T/cfg.json" >/dev/null 2>&1
check "config: exit 0" [ $? -eq 0 ]
"$K" backtest --data "$LEAN" --no-baselines --set engine.signal_interval=60 \
    --set engine.threshold=0.5 --set paper.latency_ms=0 --json "$T/set.json" >/dev/null 2>&1
check "config: the file equals the same keys given with --set" cmp -s "$T/cfg.json" "$T/set.json"
"$K" backtest --data "$LEAN" --config config/kestrel.cfg --no-baselines >/dev/null 2>&1
check "config: the shipped config/kestrel.cfg runs a backtest" [ $? -eq 0 ]
printf 'engine: {\n  nope = 3;\n};\n' > "$T/badkey.cfg"
"$K" backtest --data "$LEAN" --config "$T/badkey.cfg" >/dev/null 2>"$T/badkey.err"
check "config: an unknown engine key is refused with file:line" \
    sh -c "[ $? -eq 2 ] && grep -q 'badkey.cfg:2: unknown key engine.nope' '$T/badkey.err'"
printf 'engine: { threshold = 0.5;\n' > "$T/syntax.cfg"
"$K" backtest --data "$LEAN" --config "$T/syntax.cfg" >/dev/null 2>"$T/syntax.err"
check "config: a syntax error names file:line" \
    sh -c "[ $? -eq 2 ] && grep -q 'syntax.cfg:2: syntax error' '$T/syntax.err'"

# 13. the models issue's networks and trees in the backtest's ensemble, trained on the data clock
"$K" backtest --data "$LEAN" --no-baselines --set backtest.models=weights,logreg,mlp,cnn,xgb \
    --json "$T/deep.json" > "$T/deep.txt" 2>&1
check "deep: exit 0" [ $? -eq 0 ]
check "deep: cnn and xgb scored out of sample, trained, every retrain reported" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
m = j["metrics"]["models"]
assert set(m) == {"weights", "logreg", "mlp", "cnn", "xgb"}, set(m)
assert m["cnn"]["n"] > 1000 and m["xgb"]["n"] > 500, (m["cnn"]["n"], m["xgb"]["n"])
assert j["model_trains"] > 5
r = m["xgb"]["retrains"]
assert r and r[0]["trigger"] == "first" and all("accepted" in x and x["n_holdout"] > 0 for x in r)
# the network lists its retrains too, with the same fields as XGBoost
keys = set(r[0])
c = m["cnn"]["retrains"]
assert c and all(set(x) == keys for x in c), (keys, c[:1])
assert all(x["trigger"] == "count" and x["n_holdout"] > 0 and x["n_train"] > 0 for x in c), c[:1]
assert all(x["candidate_log_loss"] is not None and x["baseline_log_loss"] is None for x in c), c[:1]
seqs = [x["seq"] for x in c]
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[-1] == m["cnn"]["retrains_total"], seqs
ats = [x["at"] for x in c]
assert ats == sorted(ats) and ats[0] >= 1670889600000, ats[:3]
assert m["cnn"]["retrains_total"] + m["xgb"]["retrains_total"] <= j["model_trains"], j["model_trains"]
assert any(x["accepted"] for x in c)
assert "retrains" not in m["logreg"] and "retrains" not in m["mlp"]
' "$T/deep.json"
"$K" backtest --data "$LEAN" --set backtest.models=weights,nope >/dev/null 2>"$T/dm.err"
check "deep: an unknown model name is a usage error" sh -c "[ $? -eq 2 ] && grep -q 'backtest.models' '$T/dm.err'"

# 14. latency in bar mode: an order sent at a bar's close reaches the book during the next bar
# and fills at its open (plus the slippage), not at the close it was sent on
"$K" backtest --data "$LEAN" --no-baselines --strategy rules --set engine.threshold=0.3 \
    --set paper.latency_ms=100 --json "$T/lat.json" > /dev/null 2>&1
check "latency: entries fill at the next bar's open, 2 bps worse" python3 -c '
import json, sys, csv
from decimal import Decimal as D
j = json.load(open(sys.argv[1]))
bars = {int(r[0]): r for r in csv.reader(open(sys.argv[2])) if r[0].isdigit()}
assert j["trade_count"] > 5
for t in j["trades"]:
    o = D(bars[t["entry_time"] - 100][1])
    want = o * (D(1) + D("0.0002") if t["side"] == "long" else D(1) - D("0.0002"))
    assert D(t["entry"]) == want, (t, o, want)
' "$T/lat.json" "$LEAN"

# 15. results stored in SQLite: the default database (the app's), then --db; the row's summary
# columns, its report and the plots' data equal the JSON report; data files with their SHA-256
check "store: runs without --db went into the app's default database" \
    sh -c "[ \$(sqlite3 '$T/xdg/kestrel/kestrel.db' 'SELECT count(*) FROM backtests') -gt 5 ]"
"$K" backtest --data "$LEAN" --strategy rules --set engine.threshold=0.3 --db "$T/st.db" \
    --json "$T/st.json" > /dev/null 2> "$T/st.err"
check "store: exit 0 and nothing on stderr (not a terminal)" sh -c "[ $? -eq 0 ] && [ ! -s '$T/st.err' ]"
stored_eq() { # db json kind
    python3 - "$@" <<'PY'
import json, sqlite3, sys, hashlib
from decimal import Decimal as D
db, jf, kind = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(jf))
c = sqlite3.connect(db)
c.row_factory = sqlite3.Row
r = c.execute("SELECT * FROM backtests ORDER BY id DESC LIMIT 1").fetchone()
assert r["kind"] == kind, r["kind"]
assert json.loads(r["report"]) == j, "report differs"
assert r["report"] + "\n" == open(jf).read(), "report bytes differ from --json"
assert r["bars"] == j["bars"] and r["trades"] == j["trade_count"] == len(j["trades"])
assert D(r["net_pnl"]) / 10**8 == D(j["net_pnl"]), (r["net_pnl"], j["net_pnl"])
assert D(r["fees"]) / 10**8 == D(j["fees"])
assert r["return"] == j["return"] and r["sharpe"] == j["sharpe"]
assert r["max_drawdown"] == j["max_drawdown"]
assert r["verdict"] == "; ".join(j["verdicts"])
assert r["seed"] == j["seed"] and r["symbol"] == j["symbol"] and r["venue"] == j["venue"]
assert r["strategy"] == j["strategy"] and r["from_ms"] == j["from"] and r["to_ms"] == j["to"]
p = json.loads(r["plots"])
assert p["equity_curve"] == j["equity_curve"] and p["monthly_returns"] == j["monthly_returns"]
assert p["reliability"] == j["metrics"]["ensemble"].get("reliability", [])
assert p["trade_pnls"] == [t["pnl"] for t in j["trades"]]
files = json.loads(r["data_files"])
for f in files:
    data = open(f["path"], "rb").read()
    assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest(), f
assert "--db" in r["args"] and r["args"].startswith("kestrel backtest ")
cfg = json.loads(r["config"])
assert cfg["strategy"] == j["strategy"] and cfg["symbol"] == j["symbol"]
PY
}
check "store: the stored row equals the JSON report (columns, report, plots, file hashes)" \
    stored_eq "$T/st.db" "$T/st.json" run
check "store: the run has trades to show" sh -c "[ \$(sqlite3 '$T/st.db' 'SELECT trades FROM backtests') -gt 3 ]"
"$K" backtest --data "$LEAN" --walk-forward 480:240 --db "$T/st.db" --json "$T/stwf.json" \
    > /dev/null 2>&1
check "store: a walk-forward run is a row of its own" stored_eq "$T/st.db" "$T/stwf.json" walk_forward
"$K" backtest --data "$LEAN" --no-store --json "$T/ns.json" > /dev/null 2>&1
check "store: --no-store stores nothing" eq "$(sqlite3 "$T/st.db" 'SELECT count(*) FROM backtests')" 2
# a sweep: one row, and one per configuration pointing at it; a merge of shards: one row
"$K" backtest $SW --db "$T/sw.db" --json "$T/swst.json" > /dev/null 2>&1
"$K" backtest $SW --shard 1/2 --no-store --json "$T/h1.json" > /dev/null 2>&1
"$K" backtest $SW --shard 2/2 --no-store --json "$T/h2.json" > /dev/null 2>&1
"$K" backtest merge "$T/hm.json" "$T/h1.json" "$T/h2.json" --db "$T/sw.db" > /dev/null 2>&1
check "store: a sweep, its 6 configurations (each with its own run report) and the merge" python3 -c '
import json, sqlite3, sys
from decimal import Decimal as D
c = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row
rows = c.execute("SELECT * FROM backtests ORDER BY id").fetchall()
kinds = [r["kind"] for r in rows]
assert kinds == ["sweep"] + ["sweep_config"] * 6 + ["merge"] + ["sweep_config"] * 6, kinds
sw = json.load(open(sys.argv[2])); hm = json.load(open(sys.argv[3]))
own = {e["index"]: e["report"] for e in sw["sweep_results"]}
assert len(own) == 6 and all(own[i]["trades"] for i in own)  # every configuration traded
assert [e["report"] for e in hm["sweep_results"]] == [own[i] for i in sorted(own)]
def bare(j):  # the sweep row: the configurations report in their own rows
    j = json.loads(json.dumps(j))
    for e in j["sweep_results"]:
        del e["report"]
    return j
assert json.loads(rows[0]["report"]) == bare(sw) and json.loads(rows[7]["report"]) == bare(hm)
for top, cfgs in ((rows[0], rows[1:7]), (rows[7], rows[8:14])):
    for r, k in zip(cfgs, sw["sweep"]["ranking"]):
        j = own[k["index"]]
        assert r["parent_id"] == top["id"] and json.loads(r["report"]) == j
        assert j["index"] == k["index"] and j["params"] == k["params"]
        assert r["return"] == k["return"] == j["return"] and r["sharpe"] == j["sharpe"]
        assert r["bars"] == j["bars"] and r["trades"] == j["trade_count"] == len(j["trades"])
        assert D(r["net_pnl"]) / 10**8 == D(j["net_pnl"]) and D(r["fees"]) / 10**8 == D(j["fees"])
        assert D(j["net_pnl"]) == sum((D(t["pnl"]) for t in j["trades"]), D(0))
        assert r["max_drawdown"] == j["max_drawdown"] and r["symbol"] == j["symbol"] == "BTCUSDT"
        assert r["verdict"] == "; ".join(j["verdicts"]) and "buy_and_hold" in r["verdict"]
        p = json.loads(r["plots"])
        assert p["equity_curve"] == j["equity_curve"] and p["trade_pnls"] == [t["pnl"] for t in j["trades"]]
    win = own[sw["sweep"]["winner"]]
    assert top["return"] == sw["sweep"]["ranking"][0]["return"] and top["sharpe"] == win["sharpe"]
    assert "DSR" in top["verdict"] and "PBO" in top["verdict"]
assert rows[0]["symbol"] == "BTCUSDT"
' "$T/sw.db" "$T/swst.json" "$T/hm.json"
# a configuration's own report is the run of its values alone (without the rules / RSI baselines)
"$K" backtest --data "$LEAN" --strategy rules --set engine.threshold=0.65 --set risk.atr_mult=1.5 \
    --no-baselines --no-store --json "$T/cfg3.json" > /dev/null 2>&1
check "store: a configuration's report == the single run of its values (--no-baselines)" python3 -c '
import json, sys
sw = json.load(open(sys.argv[1])); one = json.load(open(sys.argv[2]))
r = [e["report"] for e in sw["sweep_results"] if e["params"] == "engine.threshold=0.65 risk.atr_mult=1.5"][0]
assert r.pop("index") == 3 and r.pop("params")
assert r == one, [k for k in one if one[k] != r.get(k)]
' "$T/swst.json" "$T/cfg3.json"
# a configuration exported by its id: its trades, as a run's
"$K" export backtests --db "$T/sw.db" --id 3 > "$T/excfg.csv"
check "export backtests --id of a sweep configuration: its trades" python3 -c '
import csv, json, sqlite3, sys
rows = list(csv.DictReader(open(sys.argv[1])))
j = json.loads(sqlite3.connect(sys.argv[2]).execute("SELECT report FROM backtests WHERE id = 3").fetchone()[0])
assert len(rows) == len(j["trades"]) > 0
for r, t in zip(rows, j["trades"]):
    assert r["pnl"] == t["pnl"] and r["fee"] == t["fee"] and int(r["exit_time"]) == t["exit_time"]
' "$T/excfg.csv" "$T/sw.db"
# export: the runs' summary rows, and one run's trades
"$K" export backtests --db "$T/st.db" --format json > "$T/ex.json"
check "export backtests: one row per run, exact net_pnl and fees" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1])); j = json.load(open(sys.argv[2]))
assert [r["kind"] for r in rows] == ["run", "walk_forward"]
assert rows[0]["net_pnl"] == j["net_pnl"] and rows[0]["fees"] == j["fees"]
assert rows[0]["trades"] == j["trade_count"] and rows[0]["return"] == j["return"]
assert rows[0]["data_files"][0]["sha256"]
' "$T/ex.json" "$T/st.json"
"$K" export backtests --db "$T/st.db" --id 1 > "$T/ext.csv"
check "export backtests --id: the run's trades as CSV" python3 -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1]))); j = json.load(open(sys.argv[2]))
assert len(rows) == len(j["trades"]) > 0
for r, t in zip(rows, j["trades"]):
    assert r["pnl"] == t["pnl"] and r["fee"] == t["fee"] and int(r["entry_time"]) == t["entry_time"]
' "$T/ext.csv" "$T/st.json"
"$K" export backtests --db "$T/st.db" --id 99 > /dev/null 2>&1
check "export backtests --id of no run: exit 1" [ $? -eq 1 ]
# a database that is not Kestrel's: the report is still written, the run says it was not stored
echo "not a database" > "$T/bad.db"
"$K" backtest --data "$LEAN" --db "$T/bad.db" --json "$T/bad.json" > /dev/null 2> "$T/bad.err"
check "store: a foreign file is left alone, exit 1, the reason on stderr, the JSON written" \
    sh -c "[ $? -eq 1 ] && grep -q 'not stored' '$T/bad.err' && [ -s '$T/bad.json' ] &&
    [ \"\$(cat '$T/bad.db')\" = 'not a database' ]"
# --db in a directory that does not exist: said (exit 2), not created, as the app's --db
"$K" backtest --data "$LEAN" --db "$T/nodir/x.db" > /dev/null 2> "$T/nodir.err"
check "store: --db in a missing directory: exit 2, said, nothing created" sh -c \
    "[ $? -eq 2 ] && grep -q 'does not exist' '$T/nodir.err' && [ ! -e '$T/nodir' ]"
# while the app runs on the database (it holds the lock), the backtest still stores its row
"$K" --headless --speed 0.2 --db "$T/live.db" --socket "$T/live.sock" \
    --replay data/replay/btcusdt_20240808.gz > /dev/null 2>&1 &
APP=$!
PIDS="$PIDS $APP"
wait_for 20 "$K" ctl --socket "$T/live.sock" ping > /dev/null 2>&1
"$K" backtest --data "$LEAN" --db "$T/live.db" --json "$T/live.json" > /dev/null 2> "$T/live.err"
check "store: with the app running on the database, the run is stored (exit 0)" [ $? -eq 0 ]
check "store: ... and the app's own view lists it (read on its store thread)" wait_for 10 sh -c \
    "'$K' ctl --socket '$T/live.sock' backtests reload >/dev/null && sleep 0.2 &&
     '$K' ctl --socket '$T/live.sock' backtests list | grep -q '\"kind\":\"run\"'"
"$K" ctl --socket "$T/live.sock" quit > /dev/null 2>&1
wait "$APP" 2>/dev/null

# 16. the progress bar with its ETA goes to stderr when that is a terminal (a pty here), and the
# stored row's id after it; stdout (the report) is the same as without a terminal
check "progress: bar, percent and ETA on a terminal's stderr, then the stored id" python3 -c '
import os, pty, subprocess, sys
k, data, db, out = sys.argv[1:5]
m, s = pty.openpty()
p = subprocess.Popen([k, "backtest", "--data", data, "--from", "2022-01-06", "--to", "2022-01-07",
                      "--no-baselines", "--db", db], stdout=open(out, "w"), stderr=s)
os.close(s)
buf = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    buf += d
assert p.wait() == 0
t = buf.decode()
assert "\r[" in t and "] 100% ETA" in t and " 0% ETA" not in t.split("100%")[1], t[-300:]
assert "stored as backtest #1 in " + db in t, t[-200:]
assert "ETA" not in open(out).read()
' "$K" "$PERP" "$T/pty.db" "$T/pty.txt"

# a horizon inside one bar of the data is refused with the fix (every label would be HOLD and
# every model "100 % accurate"); with the fix the same file runs and scores both ways
H1="$SHARED/klines/long/binance-spot_BTCUSDT_1h_2017-08-17_2024-04-21.csv.gz"
"$K" backtest --data "$H1" --no-store > "$T/h1.txt" 2> "$T/h1.err"
check "1h data, 15 min horizon: refused (exit 1)" [ $? -eq 1 ]
check "1h data, 15 min horizon: the error names engine.horizon and the fix" \
    grep -q "engine.horizon (900 s) is shorter than one 1h bar of the data.*--set engine.horizon=60m" "$T/h1.err"
"$K" backtest --data "$H1" --no-store --set engine.horizon=4h --set engine.analysis_tf=1h \
    --json "$T/h1.json" > /dev/null 2>&1
check "1h data, 4h horizon: runs" [ $? -eq 0 ]
check "1h data, 4h horizon: outcomes are not all HOLD (accuracy < 0.9)" \
    eq "$(jget "$T/h1.json" 'j["metrics"]["ensemble"]["n"] > 50000 and j["metrics"]["ensemble"]["accuracy"] < 0.9')" True
check "a file named binance-spot_BTCUSDT_...: venue and symbol from the name (spot fees)" \
    eq "$(jget "$T/h1.json" 'j["venue"] + ":" + j["symbol"]')" binance-spot:BTCUSDT

# the symbol and venue come from a VENUE_SYMBOL_ file name unless the flags say otherwise
E1="$SHARED/klines/long/binance-usdm_ETHUSDT_1m_2025-07-06_2025-07-17.csv.gz"
B1="$SHARED/klines/long/binance-usdm_BTCUSDT_1m_2025-07-06_2025-07-17.csv.gz"
"$K" backtest --data "$E1" --no-store --strategy rules --to 2025-07-07 --json "$T/e1.json" \
    > /dev/null 2>&1
check "an ETHUSDT file is reported as ETHUSDT on binance-usdm" \
    eq "$(jget "$T/e1.json" 'j["venue"] + ":" + j["symbol"]')" binance-usdm:ETHUSDT
"$K" backtest --data "$E1" --no-store --strategy rules --to 2025-07-07 --symbol ETHX \
    --venue binance-spot --json "$T/e2.json" > /dev/null 2>&1
check "--symbol and --venue win over the file name" \
    eq "$(jget "$T/e2.json" 'j["venue"] + ":" + j["symbol"]')" binance-spot:ETHX
"$K" backtest --data "$E1,$B1" --no-store > /dev/null 2> "$T/mix.err"
check "files naming different markets: exit 2" [ $? -eq 2 ]
check "... with the fix" grep -q "name different markets (binance-usdm:ETHUSDT and binance-usdm:BTCUSDT): give --venue and --symbol" "$T/mix.err"

done_tests
