#!/bin/sh
# The control socket as a user meets it, against a running headless Kestrel: a socket squatted
# by another user (the squatter runs as nobody when the test runs as root) is detected by the
# server and by `kestrel ctl`, for an explicit path and for the default private directory;
# 32 idle clients do not lock `ctl status` out; idle clients time out (control.idle_timeout);
# a deferred reply (ctl ping) while other clients are served; the one speed validator on the
# command line, over the socket and in the configuration file; the status document's schema and string ids; the command
# table over the socket (help, UI commands headless, bad subcommands, unknown commands).
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
R=data/replay/ethusdt_20240808.gz
ctl() { "$K" ctl --socket "$T/k.sock" "$@"; }

# --- squatting ------------------------------------------------------------------------------
# the squatter needs a python3 that nobody may run (not a shim under /root)
PYN=/usr/bin/python3
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PYN" -c pass 2>/dev/null; then
    chmod 711 "$T"
    mkdir -p "$T/pub" "$T/xdg" && chmod 1777 "$T/pub" "$T/xdg"
    # squat SOCKET [DIR-TO-CREATE]: as nobody, listen on SOCKET and answer forged JSON
    squat() {
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PYN" -c '
import os, socket, sys
if len(sys.argv) > 2:
    os.mkdir(sys.argv[2], 0o700)
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"{\"forged\":true,\"symbols\":[]}\n"); c.close()
' "$@" &
        PIDS="$PIDS $!"
    }
    squat "$T/pub/k.sock"
    wait_for 10 test -S "$T/pub/k.sock"
    check "squatter's socket belongs to nobody" eq "$(stat -c %u "$T/pub/k.sock")" 65534
    "$K" --headless --exit-at-end --speed 0 --db "$T/sq.db" --socket "$T/pub/k.sock" \
        --log "$T/sq.log" --replay $R > "$T/sq.out" 2> "$T/sq.err"; rc=$?
    check "server refuses a squatted socket (exit $rc)" test $rc -ne 0
    check "server names the other uid, not 'another Kestrel'" grep -q "belongs to uid 65534" "$T/sq.err"
    check "server leaves the squatter's socket alone" test -S "$T/pub/k.sock"
    "$K" ctl --socket "$T/pub/k.sock" status > "$T/cq.out" 2> "$T/cq.err"; rc=$?
    check "client refuses a squatted socket: exit 1" test $rc -eq 1
    check "client prints no forged JSON" test ! -s "$T/cq.out"
    check "client says why" grep -q "belongs to uid 65534.*not trusting it" "$T/cq.err"

    # the default path: the squatter made $XDG_RUNTIME_DIR/kestrel first
    squat "$T/xdg/kestrel/kestrel.sock" "$T/xdg/kestrel"
    wait_for 10 test -S "$T/xdg/kestrel/kestrel.sock"
    XDG_RUNTIME_DIR="$T/xdg" "$K" --headless --exit-at-end --speed 0 --db "$T/sq2.db" \
        --log "$T/sq2.log" --replay $R > "$T/sq2.out" 2> "$T/sq2.err"; rc=$?
    check "server refuses a squatted default directory (exit $rc)" test $rc -ne 0
    check "server: the directory belongs to uid 65534" grep -q "directory belongs to uid 65534" "$T/sq2.err"
    XDG_RUNTIME_DIR="$T/xdg" "$K" ctl status > "$T/cq2.out" 2> "$T/cq2.err"; rc=$?
    check "client refuses a squatted default directory: exit 1" test $rc -eq 1
    check "client prints no forged JSON (default path)" test ! -s "$T/cq2.out"
    check "client: the directory belongs to uid 65534" grep -q "directory belongs to uid 65534" "$T/cq2.err"
else
    echo "(not root, no setpriv or no python3 for nobody: the squatter tests are skipped)"
fi

# --- a private default directory, created by the server --------------------------------------
mkdir -p "$T/own"
XDG_RUNTIME_DIR="$T/own" "$K" --headless --speed 1 --db "$T/own.db" --log "$T/own.log" \
    --replay $R &
PIDS="$PIDS $!"; OPID=$!
wait_for 10 test -S "$T/own/kestrel/kestrel.sock"
check "default socket directory is created 0700" eq "$(stat -c %a "$T/own/kestrel")" 700
XDG_RUNTIME_DIR="$T/own" "$K" ctl status > "$T/own.json"
check "default path: ctl finds the server" eq "$(jget "$T/own.json" 'j["control"]["path"]')" "$T/own/kestrel/kestrel.sock"
XDG_RUNTIME_DIR="$T/own" "$K" ctl quit > /dev/null
wait_for 10 sh -c "! kill -0 $OPID 2>/dev/null"

# --- a running server: status, commands, speed, deferred replies, idle clients ---------------
printf 'control: { idle_timeout = 0.5; };\n' > "$T/idle.cfg"
"$K" --headless --speed 1 --config "$T/idle.cfg" --db "$T/k.db" --socket "$T/k.sock" \
    --log "$T/k.log" --replay $R &
PIDS="$PIDS $!"; KPID=$!
wait_for 10 test -S "$T/k.sock"
wait_for 20 sh -c "'$K' ctl --socket '$T/k.sock' status | grep -q '\"live\"'"
ctl status > "$T/st.json"
check "status carries its schema" eq "$(jget "$T/st.json" 'j["schema"]')" 2
check "last_update_id is a string of digits" eq "$(jget "$T/st.json" 'all(isinstance(s["last_update_id"],str) and s["last_update_id"].isdigit() for s in j["symbols"])')" True
check "prices and quantities are strings (or null)" eq "$(jget "$T/st.json" 'all(isinstance(s[k],(str,type(None))) for s in j["symbols"] for k in ("best_bid","best_ask","best_bid_qty","best_ask_qty","last_price")) and any(isinstance(s["best_bid"],str) for s in j["symbols"])')" True
check "no number in the document is beyond 2^53" eq "$(jget "$T/st.json" '(lambda f: f(f, j))(lambda f, v: all(f(f, x) for x in (v.values() if isinstance(v, dict) else v)) if isinstance(v, (dict, list)) else not (isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > 2**53))')" True
check "control section names the socket" eq "$(jget "$T/st.json" 'j["control"]["path"]')" "$T/k.sock"
check "control section: the configured idle timeout" eq "$(jget "$T/st.json" 'j["control"]["idle_timeout_ms"]')" 500
check "ui section is null headless" eq "$(jget "$T/st.json" 'j["ui"]')" None
check "store and replay sections" eq "$(jget "$T/st.json" '"store" in j and "files" in j and "speed" in j')" True

ctl help > "$T/help.json"
check "help lists the table" eq "$(jget "$T/help.json" 'all(n in [c["name"] for c in j["commands"]] for n in ("status","book","candles","speed","pause","ping","pane-next","zoom","close","ticket","settings"))')" True
check "help: c is close (available)" eq "$(jget "$T/help.json" '[(c["keys"],c["available"]) for c in j["commands"] if c["name"]=="close"][0]')" "('c', True)"
check "help: o is the ticket (available)" eq "$(jget "$T/help.json" '[(c["keys"],c["available"]) for c in j["commands"] if c["name"]=="ticket"][0]')" "('o', True)"
check "help: e is settings" eq "$(jget "$T/help.json" '[c["keys"] for c in j["commands"] if c["name"]=="settings"][0]')" e
check "help: Tab is pane-next" eq "$(jget "$T/help.json" '[c["keys"] for c in j["commands"] if c["name"]=="pane-next"][0]')" Tab
ctl zoom > "$T/z.json"; rc=$?
check "a screen command headless: error exit 1" test $rc -eq 1
check "a screen command headless: says why" eq "$(jget "$T/z.json" '"needs the terminal UI" in j["error"]')" True
ctl backtests frob > "$T/o.json"; rc=$?
check "a bad subcommand: error exit 1" test $rc -eq 1
check "a bad subcommand: the usage" eq "$(jget "$T/o.json" 'j["error"]')" "usage: backtests [show|reload|list|open ID]"
ctl settings open > "$T/o.json"; rc=$?
check "settings open headless: error exit 1 (needs the screen)" test $rc -eq 1
ctl settings > "$T/o.json"
check "settings headless: the form's fields with value, source and range" eq "$(jget "$T/o.json" '[(s["key"],s["value"],s["source"],s["range"]) for s in j["settings"] if s["key"]=="risk.max_positions"][0]')" "('risk.max_positions', '5', 'default', 'an integer 1..100')"
ctl frobnicate > "$T/u.json"
check "unknown command reply (as docs/CONTROL.md says)" eq "$(jget "$T/u.json" 'j["error"]')" "unknown command 'frobnicate' (try: help)"
ctl speed 1 2 > "$T/a.json"
check "wrong arity: usage" eq "$(jget "$T/a.json" 'j["error"]')" "usage: speed X|faster|slower"
ctl timeframe 1m > "$T/tf.json"
check "timeframe over the socket" eq "$(jget "$T/tf.json" 'j["timeframe"]')" 1m
ctl focus ETHUSDT > "$T/f.json"
check "focus over the socket" eq "$(jget "$T/f.json" 'j["symbol"]')" ETHUSDT

# one validator for --speed and ctl speed
for v in 1e-400 -0 0x1p3 0X10 nan inf -1 1e999 0.001 " 1" "1 " ""; do
    ctl speed "$v" > "$T/sp.json"; rc=$?
    check "ctl speed '$v' refused" sh -c "[ $rc -eq 1 ] && grep -q 'not valid (expected 0 or 0.01..1000)' '$T/sp.json'"
    "$K" --headless --exit-at-end --speed "$v" --db "$T/x.db" --socket "$T/x.sock" \
        --replay $R > /dev/null 2> "$T/sp.err"; rc=$?
    check "--speed '$v' refused (exit 2, one line)" sh -c "[ $rc -eq 2 ] && [ \$(wc -l < '$T/sp.err') -eq 1 ] && grep -q 'not valid' '$T/sp.err'"
done
# ... and the configuration file refuses the same values (libconfig has no hex floats or nan)
for v in 1e-400 -0 -0.0 0x10 1e999 -1; do
    printf 'replay: { speed = %s; };\n' "$v" > "$T/sp.cfg"
    "$K" --config "$T/sp.cfg" --headless --exit-at-end --db "$T/x.db" --socket "$T/x.sock" \
        --replay $R > /dev/null 2> "$T/sp.err"; rc=$?
    check "replay.speed = $v refused (exit 2, file:line)" sh -c "[ $rc -eq 2 ] && grep -q 'sp.cfg:1: replay.speed' '$T/sp.err'"
done
ctl speed 2.5 > "$T/sp.json"
check "ctl speed 2.5 accepted" eq "$(jget "$T/sp.json" 'j["speed"]')" 2.5
ctl speed faster > "$T/sp.json"
check "ctl speed faster: one step up" eq "$(jget "$T/sp.json" 'j["speed"] > 2.5')" True

# a deferred reply: ping 1500 waits; status answers meanwhile and counts the waiting request
ctl ping 1500 > "$T/ping.json" &
PING=$!
wait_for 10 sh -c "'$K' ctl --socket '$T/k.sock' status | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"control\"][\"waiting\"] == 1 else 1)'"
check "while ping waits, status answers and counts it" test $? -eq 0
wait $PING; rc=$?
check "ping answers later: exit 0" test $rc -eq 0
check "ping's deferred reply" eq "$(jget "$T/ping.json" 'j["pong"] and j["delay_ms"] == 1500')" True

# idle clients: closed after control.idle_timeout (0.5 s here)
python3 - "$T/k.sock" > "$T/idle.txt" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
t = time.monotonic()
print("closed" if s.recv(1) == b"" else "data", round(time.monotonic() - t, 1) >= 0.4)
PY
check "an idle client is closed after the idle timeout" eq "$(cat "$T/idle.txt")" "closed True"
ctl quit > /dev/null
wait_for 10 sh -c "! kill -0 $KPID 2>/dev/null"

# 32 idle clients hold every slot: `ctl status` still gets in (the idlest is evicted)
"$K" --headless --speed 1 --db "$T/e.db" --socket "$T/e.sock" --log "$T/e.log" --replay $R &
PIDS="$PIDS $!"; EPID=$!
wait_for 10 test -S "$T/e.sock"
python3 - "$T/e.sock" "$T/held" <<'PY' &
import socket, sys, time
conns = []
for i in range(32):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); conns.append(s)
open(sys.argv[2], "w").close()
time.sleep(30)
PY
HOLD=$!; PIDS="$PIDS $HOLD"
wait_for 10 test -f "$T/held"
wait_for 10 sh -c "'$K' ctl --socket '$T/e.sock' status > '$T/e.json' 2>/dev/null"
check "32 idle clients, then ctl status answers" eq "$(jget "$T/e.json" 'j["schema"]')" 2
check "the idlest client was evicted for it" test "$(jget "$T/e.json" 'j["control"]["evicted"]')" -ge 1
kill $HOLD 2>/dev/null
"$K" ctl --socket "$T/e.sock" quit > /dev/null
wait_for 10 sh -c "! kill -0 $EPID 2>/dev/null"
done_tests
