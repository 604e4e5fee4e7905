#!/bin/sh
# TUI test of the store's banner: when the database cannot be written (a file size limit that the
# run outgrows, as tests/integration/store_health.sh uses), the status bar shows a banner at once
# ("STORE FAILING: N rows held, M lost: disk I/O error") in the error role: red on a colour
# terminal, bold reverse on a terminal without colour (TERM=vt100); the status document says
# "failing" at the same time. A normal run shows no banner. A private tmux server; prints
# "N passed, N failed". Needs tmux, prlimit; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init sb prlimit
ctl() { "$BIN" ctl --socket "$tmp/$S.sock" "$@"; }
R=data/replay/btcusdt_20240808.gz,data/replay/ethusdt_20240808.gz
start() { # name TERM [prefix...]
    S=$1; TUI_S=$S; term=$2; shift 2
    $T new-session -d -s "$S" -x 160 -y 40 \
        "env LANG=C.UTF-8 LC_ALL= TERM=$term $* $BIN --db $tmp/$S.db --socket $tmp/$S.sock \
         --log $tmp/$S.log --speed 0 --replay $R 2>>$tmp/stderr; echo \$? > $tmp/rc; sleep 60"
}
# the status bar (the first line) of the last capture
top() { head -n 1 "$tmp/screen"; }
# a server that outlives the sessions the test kills
$T new-session -d -s keep "sleep 600"

# 1. a normal run: the replay ends, no banner
start n screen-256color
expect "ENDED" "a normal run: the replay ends" 20
if top | grep -q "STORE"; then bad "a normal run: no store banner"
else ok "a normal run: no store banner"; fi
$T kill-session -t n >/dev/null 2>&1 || :

# 2. writes fail during the run (a 150 KB file size limit): the banner, in red
start f screen-256color prlimit --fsize=250000
expect "STORE FAILING: " "writes failing: the status bar shows the banner" 20
if top | grep -Eq "STORE FAILING: [0-9]+ rows held, [0-9]+ lost: .*disk I/O error"; then
    ok "the banner says how many rows are held and lost, and the error"
else
    bad "the banner says how many rows are held and lost, and the error"
fi
[ "$(st 'j["store"]["state"]')" = failing ] && ok "status store.state is failing meanwhile" ||
    bad "status store.state is failing meanwhile"
# with escape sequences: the banner's text is drawn in red (the theme's error role, 196)
cap -e
a=$(attrs_at "STORE FAILING")
if printf ' %s ' "$a" | grep -Eq ' (38;5;196|31|91) '; then
    ok "the banner is drawn in red"
else
    echo "   attributes at the banner: $a"
    bad "the banner is drawn in red"
fi
grep -q "ERROR store: database writes are failing" "$tmp/f.log" &&
    ok "and an ERROR line in the log" ||
    bad "and an ERROR line in the log"
$T kill-session -t f >/dev/null 2>&1 || :

# 3. a terminal without colour: the same banner, bold and reverse
start m vt100 prlimit --fsize=250000
expect "STORE FAILING: " "no colour: the banner shows" 20
cap -e
a=$(attrs_at "STORE FAILING")
if printf ' %s ' "$a" | tr ';' ' ' | grep -q ' 1 ' &&
    printf ' %s ' "$a" | tr ';' ' ' | grep -q ' 7 '; then
    ok "no colour: the banner is bold and reverse"
else
    echo "   attributes at the banner: $a"
    bad "no colour: the banner is bold and reverse"
fi
if printf ' %s ' "$a" | grep -q '38;5'; then bad "no colour: and no colour codes"; else
    ok "no colour: and no colour codes"; fi
$T kill-session -t m >/dev/null 2>&1 || :

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
