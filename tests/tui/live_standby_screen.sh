#!/bin/sh
# TUI test of health.warm_standby on the System screen (4), against the fake exchange
# (tests/fake/, the real spot BTCUSDT capture with its times moved to now): a private tmux
# server runs `kestrel --live` with the key on. Under the connection row of `binance-spot books`
# the screen shows its twin: "warm standby synced switches 0" (dim). The fake stalls the
# oldest of the two (one=1, path=/stream: the socket open, nothing sent); when that is the
# active one the standby is switched to: the line says "switches 1", the book row stays
# "live", and once the stalled one is reconnected and matched again "warm standby synced" is
# back. With the key off there is no standby line. Prints "N passed, N failed". Needs tmux,
# python3-websockets. Bounded polls only; the tape is paced (--rate) and the switch is
# retried on the other connection when the first stall hit the standby (as live_standby.sh).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init lss
S=lss; TUI_S=$S

fake_start fake --lifetime 240 --rate 200 --max-lines 40000 --shift-times \
    --preload binance-spot:BTCUSDT --preload binance-spot:ETHUSDT
[ -n "$P" ] || { echo "0 passed, 1 failed"; exit 1; }
fq() { curl -s --max-time 10 "http://127.0.0.1:$P$1" > /dev/null; }
cat > "$tmp/live.cfg" <<EOF
source = "live";
watch = ["binance-spot:BTCUSDT"];
venues = { binance-spot = { rest_url = "http://127.0.0.1:$P"; ws_url = "ws://127.0.0.1:$P"; }; };
health = { stall_factor = 20; warm_standby = true; };
alerts = { bell = false; };
EOF
$T new-session -d -s keep "sleep 600"
$T new-session -d -s "$S" -x 160 -y 40 \
    "env LANG=C.UTF-8 LC_ALL= TERM=screen-256color $BIN --config $tmp/live.cfg --db $tmp/k.db \
     --socket $tmp/k.sock --log $tmp/k.log 2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
ctl() { "$BIN" ctl --socket "$tmp/k.sock" "$@"; }
cq() { ctl connections > "$tmp/c.json" 2> /dev/null && [ "$(jget "$tmp/c.json" "$1")" = True ]; }
C0='j["connections"][0]'
shows_re() { cap; grep -Eq -- "$1" "$tmp/screen"; }

kt_poll $((300 * slow)) cq 'j["books"][0]["state"] == "live"' || bad "the book becomes live"
keys 4
expect "binance-spot books" "System: the connection row" 20
expect "warm standby synced" "System: its warm standby, synced" 30
if kt_poll $((50 * slow)) shows_re "warm standby synced +switches 0 lead [0-9]+"; then
    ok "System: no switch yet, the lead shown"
else bad "System: no switch yet, the lead shown"; fi
cap -e
a=$(python3 - "$tmp/screen" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    i = line.find("warm standby")
    if i >= 0:
        print(" ".join(m.group(1) for m in re.finditer(r"\x1b\[([0-9;]*)m", line[:i])))
        break
PY
)
if [ -n "$a" ]; then ok "System: the standby line is drawn with attributes ($a)"
else bad "System: the standby line is drawn with attributes"; fi

# a stall of the oldest connection; when that was the standby, it is reconnected as silent and
# the next stall's oldest is the active one
switched() { cq "$C0[\"standby_switches\"] >= 1"; }
for attempt in 1 2; do
    fq "/_fake/fault?type=stall&secs=60&one=1&path=/stream"
    kt_poll $((80 * slow)) switched && break
    kt_poll $((200 * slow)) cq "$C0[\"standby\"] == \"synced\""
done
if switched; then ok "stall: switched to the warm standby"
else bad "stall: switched to the warm standby"; fi
expect "switches 1" "System: the switch is shown" 10
if grep -q "BTCUSDT  *live" "$tmp/screen"; then ok "System: the book row stays live"
else bad "System: the book row stays live"; fi
if kt_poll $((400 * slow)) shows_re "warm standby synced +switches [1-9]"; then
    ok "System: the stalled one is a synced standby again"
else bad "System: the stalled one is a synced standby again"; fi
cp "$tmp/screen" "$tmp/screen.on" # (KEEP_T=DIR keeps it)

ctl quit > /dev/null 2>&1
n=$((200 * slow))
while [ ! -s "$tmp/rc" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] && ok "quits with exit 0" || bad "quits with exit 0"

# the key off (the default): no standby line (ETHUSDT: a tape of its own)
sed 's/warm_standby = true;//; s/BTCUSDT/ETHUSDT/' "$tmp/live.cfg" > "$tmp/off.cfg"
S2=lss2; TUI_S=$S2
rm -f "$tmp/rc"
$T new-session -d -s "$S2" -x 160 -y 40 \
    "env LANG=C.UTF-8 LC_ALL= TERM=screen-256color $BIN --config $tmp/off.cfg --db $tmp/k2.db \
     --socket $tmp/k.sock --log $tmp/k2.log 2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
kt_poll $((300 * slow)) cq 'j["books"][0]["state"] == "live"' || bad "off: the book becomes live"
keys 4
expect "binance-spot books" "off: the connection row" 20
if grep -q "warm standby" "$tmp/screen"; then bad "off: no standby line"
else ok "off: no standby line"; fi
ctl quit > /dev/null 2>&1
n=$((200 * slow))
while [ ! -s "$tmp/rc" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
