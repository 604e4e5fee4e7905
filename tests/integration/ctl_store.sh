#!/bin/sh
# The control socket against a running headless Kestrel, and the store across a restart: the
# chart history of a first run comes back from the database in a second run.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

# run 1: BTCUSDT's 08 file, to the end
"$K" --headless --exit-at-end --speed 0 --db "$T/k.db" --socket "$T/k.sock" --log "$T/1.log" \
    --replay data/replay/btcusdt_20240808.gz > "$T/1.json"
check "first run exits 0" test $? -eq 0
check "control socket removed at exit" test ! -e "$T/k.sock"
n1=$(sqlite3 "$T/k.db" "select count(*) from candles where symbol='BTCUSDT' and tf='1m'")
check "closed 1m bars stored" test "$n1" -ge 5

# run 2: BTCUSDT's 09 file (no snapshot in it: its book must never become valid) with ETHUSDT
# 08+09, as fast as possible; the process keeps the final state after the data ends
"$K" --headless --speed 0 --db "$T/k.db" --socket "$T/k.sock" --log "$T/2.log" \
    --replay data/replay/btcusdt_20240809.gz,data/replay/ethusdt_20240808.gz,data/replay/ethusdt_20240809.gz &
PIDS="$PIDS $!"; KPID=$!
wait_for 10 test -S "$T/k.sock"
check "control socket is mode 0600" eq "$(stat -c %a "$T/k.sock")" 600
wait_for 60 sh -c "'$K' ctl --socket '$T/k.sock' status | grep -q '\"finished\":true'"
ctl status > "$T/st2.json"
check "status is JSON with paper broker" eq "$(jget $T/st2.json 'j["broker"]')" paper
check "replay finished and the process keeps the final state" eq "$(jget $T/st2.json 'j["finished"]')" True
ctl candles BTCUSDT 1m 50 > "$T/c.json"
old=$(jget $T/c.json 'len([c for c in j["candles"] if c["open_ms"] < 1723161600000])')
check "history from the first run is back ($old bars before midnight)" test "${old:-0}" -ge 5
check "final ETHUSDT bid" eq "$(sym $T/st2.json ETHUSDT best_bid)" 2677.60
check "BTCUSDT without a snapshot is still syncing" eq "$(sym $T/st2.json BTCUSDT book_state)" syncing
check "BTCUSDT without a snapshot has no best bid" eq "$(sym $T/st2.json BTCUSDT best_bid)" None
ctl book BTCUSDT 5 > "$T/nb.json"
check "book of a syncing symbol: not valid" eq "$(jget $T/nb.json 'j["valid"]')" False
check "book of a syncing symbol: no levels shown" eq "$(jget $T/nb.json 'len(j["bids"])+len(j["asks"])')" 0
ctl book ETHUSDT 5 > "$T/b.json"
check "book: 5 bids" eq "$(jget $T/b.json 'len(j["bids"])')" 5
check "book: best bid first" eq "$(jget $T/b.json 'j["bids"][0][0]')" 2677.60
check "book: best ask first" eq "$(jget $T/b.json 'j["asks"][0][0]')" 2677.61
check "book: bids descending" eq "$(jget $T/b.json 'all(float(j["bids"][i][0])>float(j["bids"][i+1][0]) for i in range(4))')" True
ctl candles ETHUSDT 1s 3 > "$T/e.json"
check "candles: 3 closed 1s bars" eq "$(jget $T/e.json 'len(j["candles"])')" 3
check "candles: prices are exact strings" eq "$(jget $T/e.json 'type(j["candles"][0]["c"]).__name__')" str
ctl candles ETHUSDT 1s 3 > "$T/e.json"
check "candles carry indicator values" eq "$(jget $T/e.json 'j["indicators"]["rsi_14"] is not None')" True

# malformed requests get {"error":...} and the server lives on
ctl book > "$T/e1.json"; check "book without symbol: error exit 1" test $? -eq 1
check "book without symbol: error JSON" eq "$(jget $T/e1.json '"error" in j')" True
ctl book NOSUCH > "$T/e2.json"; check "unknown symbol: error" eq "$(jget $T/e2.json '"error" in j')" True
ctl candles BTCUSDT 2m > "$T/e3.json"; check "bad timeframe: error" eq "$(jget $T/e3.json '"error" in j')" True
ctl speed -4 > "$T/e4.json"; check "bad speed: error" eq "$(jget $T/e4.json '"error" in j')" True
ctl frobnicate > "$T/e5.json"; check "unknown command: error" eq "$(jget $T/e5.json '"error" in j')" True
python3 - "$T/k.sock" > "$T/raw.txt" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
out = []
for req in [b'not json\n', b'[1,2]\n', b'{"cmd":5}\n', b'{"cmd":"book","args":[1]}\n', b'\xff\xfe\n', b'{"cmd":"status"}\n']:
    s.sendall(req)
    buf = b''
    while not buf.endswith(b'\n'):
        buf += s.recv(65536)
    out.append(buf.decode('utf-8', 'replace').strip())
print("\n".join(out))
PY
check "raw malformed requests: 5 errors then a status" eq "$(head -5 $T/raw.txt | grep -c '"error"')" 5
check "server still answers after junk" grep -q '"symbols"' "$T/raw.txt"
ctl quit > /dev/null
wait_for 10 sh -c "! kill -0 $KPID 2>/dev/null"
check "quit over the socket stops the process" sh -c "! kill -0 $KPID 2>/dev/null"
# run 3: pause, speed and resume at the recorded pace
"$K" --headless --speed 1 --db "$T/p.db" --socket "$T/k.sock" --log "$T/3.log" \
    --replay data/replay/ethusdt_20240808.gz &
PIDS="$PIDS $!"; KPID=$!
wait_for 10 test -S "$T/k.sock"
wait_for 20 sh -c "'$K' ctl --socket '$T/k.sock' status | grep -q '\"ETHUSDT\"'"
ctl pause > "$T/pause.json"
check "pause answers ok" eq "$(jget $T/pause.json 'j["paused"]')" True
m1=$(ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
sleep 1
ctl status > "$T/st3.json"
check "paused: no message is processed" eq "$(jget $T/st3.json 'j["messages"]')" "$m1"
check "status says paused" eq "$(jget $T/st3.json 'j["paused"]')" True
ctl speed 8 > "$T/sp.json"
check "speed 8 accepted" eq "$(jget $T/sp.json 'j["speed"]')" 8
ctl resume > /dev/null
sleep 1
ctl status > "$T/st4.json"
check "resumed: messages flow again" test "$(jget $T/st4.json 'j["messages"]')" -gt "$m1"
check "data clock moves at the recorded pace x speed" test "$(jget $T/st4.json 'j["data_time_ms"]')" -gt "$(jget $T/st3.json 'j["data_time_ms"]')"
ctl indicators "sma_5,rsi_7" > "$T/ind.json"
check "indicators can be changed" eq "$(jget $T/ind.json 'j["indicators"]')" "sma_5,rsi_7"
ctl indicators "nonsense_3" > "$T/ind2.json"
check "a bad indicator list is refused" eq "$(jget $T/ind2.json '"error" in j')" True
ctl indicators "$(python3 -c 'print(",".join("sma_%d" % i for i in range(2, 19)))')" > "$T/ind3.json"
check "more than 16 indicators are refused (memory per series is bounded)" eq "$(jget $T/ind3.json '"error" in j')" True
ctl quit > /dev/null
wait_for 10 sh -c "! kill -0 $KPID 2>/dev/null"
check "indicator choice persisted" eq "$(sqlite3 "$T/p.db" "select value from settings where key='ui.indicators'")" "sma_5,rsi_7"

ctl status > /dev/null 2> "$T/noconn.err"; rc=$?
check "ctl without a server: exit 1" test $rc -eq 1
check "ctl without a server: clear message" grep -qi "cannot connect" "$T/noconn.err"
done_tests
