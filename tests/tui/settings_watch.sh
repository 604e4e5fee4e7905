#!/bin/sh
# TUI flows of the settings form (`e`) and the watchlist's add / remove (`a` / `d`), on the real
# program replaying the bundled BTC and ETH captures in a private tmux server, with a copy of the
# shipped config file plus one risk group of the user's own (with a comment on its line):
#  - e opens the form; a value typed and applied is in `ctl get` at once and marked "stored";
#    a value out of range is refused in the form with the range and changes nothing; Right
#    cycles the sizing mode;
#  - after a restart the stored values are back; after the file is edited by hand the file
#    wins for that key (and the stored value is dropped);
#  - w writes the values back into the config file: only the changed setting's line differs,
#    every other line (comments included) is byte for byte the same, and the file still loads;
#  - a: an unknown symbol is refused in the prompt with the known instruments; a known one
#    (binance-usdm:ETHUSDT, in the bundled exchange info) is added and shown; d asks about the
#    selected watchlist row and removes it; both are in `ctl symbols` and survive a restart;
#    `ctl symbols add` brings a removed one back.
# Prints "N passed, N failed". Needs tmux and python3; $KESTREL_BIN, $KESTREL_SHARED_DATA.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
tui_init settings python3
SD=${KESTREL_SHARED_DATA:-$(cd .. && pwd)/shared/data}
S=$SD/binance/streams/spot
ctl() { "$BIN" ctl --socket "$tmp/s" --timeout 5 "$@"; }

# the config: the shipped file, and a risk group of the user's own at its end
cp config/kestrel.cfg "$tmp/k.cfg"
printf '\n# my own limits\nrisk: { max_positions = 3; /* keep this comment */ };\n' >>"$tmp/k.cfg"
cp "$tmp/k.cfg" "$tmp/orig.cfg"

start() {
    $T new-session -d -s k -x 120 -y 40 \
        "$BIN --config $tmp/k.cfg --db $tmp/k.db --socket $tmp/s --speed 1 --replay $S/btcusdt_20240808.gz,$S/ethusdt_20240808.gz 2>>$tmp/err"
    poll_eq 20 True "sum(s[\"data\"] for s in j[\"symbols\"]) >= ${1:-2}" symbols
}
stop() {
    ctl quit >/dev/null 2>&1
    n=$((100 * slow))
    while [ "$n" -gt 0 ] && $T has-session -t k 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
    $T kill-server >/dev/null 2>&1
}

if start; then ok "the app runs with both symbols watched"; else bad "start"; fi
[ "$(cj 'j["value"]' get risk.max_positions)" = 3 ] && ok "the file's max_positions (3) applies" ||
    bad "the file's value applies"

# ---- the settings form ----
keys e
expect "take-profit %" "e opens the settings form"
expect "an integer 1..100" "the form shows each field's range"
keys Down Down Down Enter
keys BSpace 7 Enter
expect "risk.max_positions = 7: applied" "a typed value is applied and said so"
[ "$(cj 'j["value"]' get risk.max_positions)" = 7 ] && ok "ctl get sees it at once" ||
    bad "ctl get risk.max_positions = 7"
[ "$(cj '[s["source"] for s in j["settings"] if s["key"]=="risk.max_positions"][0]' settings)" = stored ] &&
    ok "its source is 'stored'" || bad "source stored"
keys Enter BSpace 0 Enter
expect "outside [1, 100]" "an out-of-range value is refused with the range"
[ "$(cj 'j["value"]' get risk.max_positions)" = 7 ] && ok "the refused value changed nothing" ||
    bad "refused value changed nothing"
keys Escape Down Right
poll_eq 5 fixed_quote 'j["value"]' get risk.size_mode && ok "Right cycles the sizing mode" ||
    bad "sizing mode cycled"
[ "$(cj 'j["pending"]' settings)" = 2 ] && ok "two values differ from the file" || bad "pending 2"
keys Escape
poll_eq 5 none 'j["ui"]["overlay"]' status && ok "Esc closes the form" || bad "Esc closes"

# ---- the watchlist: a / d ----
keys a
expect "Add symbol" "a opens the symbol prompt"
keys S O L U S D T Enter
expect "SOLUSDT is not a known" "an unknown symbol is refused with the reason"
expect "binance-usdm:ETHUSDT" "the refusal names the known instruments"
keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace
keys -l "binance-usdm:ETHUSDT"
keys Enter
expect "ETHUSDT UM" "a known instrument is added and shown"
[ "$(cj '[s["source"] for s in j["symbols"] if s["venue"]=="binance-usdm"]' symbols)" = "['added']" ] &&
    ok "ctl symbols lists it as added" || bad "ctl symbols added"
keys BTab
expect "[watchlist]" "Shift-Tab focuses the watchlist"
# d asks about the selected row: step down to spot ETHUSDT (bounded)
wait_gone() { # text seconds: until the screen no longer shows it
    n=$(($2 * 10 * slow))
    while [ "$n" -gt 0 ]; do
        cap
        grep -qF -- "$1" "$tmp/screen" || return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
found=0
for i in 1 2 3 4; do
    keys d
    wait_for "from the watchlist?" 3 || break
    if wait_for "remove binance-spot:ETHUSDT" 1; then
        found=1; break
    fi
    keys n
    wait_gone "from the watchlist?" 3 || break
    keys Down
done
[ $found = 1 ] && ok "d asks before removing the selected symbol" || bad "d asks"
keys y
poll_eq 5 "['binance-spot:ETHUSDT']" 'j["removed"]' symbols && ok "y removes it (ctl symbols)" ||
    bad "removed"
cap
if python3 -c '
import re, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8") if re.match(r"^.[ \u25b8>] ETHUSDT", l)]
sys.exit(0 if len(rows) == 1 and "ETHUSDT UM" in rows[0] else 1)' "$tmp/screen"; then
    ok "the watchlist shows the added ETHUSDT UM, not the removed spot ETHUSDT"
else
    bad "the watchlist rows"
fi
ctl symbols remove NOPEUSDT >"$tmp/rm.json" 2>&1
grep -qF "NOPEUSDT is not on the watchlist" "$tmp/rm.json" && ok "removing an unknown symbol says so" ||
    bad "remove unknown"

# ---- restart: stored settings and watchlist are back ----
stop
if start 1; then ok "restarted"; else bad "restart"; fi
[ "$(cj 'j["value"]' get risk.max_positions)" = 7 ] && ok "max_positions 7 restored from the store" ||
    bad "restored max_positions"
[ "$(cj 'j["value"]' get risk.size_mode)" = fixed_quote ] && ok "the sizing mode restored" ||
    bad "restored size_mode"
[ "$(cj 'j["removed"]' symbols)" = "['binance-spot:ETHUSDT']" ] && ok "the removal survives a restart" ||
    bad "removal restored"
[ "$(cj '[s["venue"] for s in j["symbols"] if s["symbol"]=="ETHUSDT"]' symbols)" = "['binance-usdm']" ] &&
    ok "the added symbol survives a restart" || bad "added restored"
ctl symbols add ETHUSDT >/dev/null
[ "$(cj 'sorted(s["venue"] for s in j["symbols"] if s["symbol"]=="ETHUSDT")' symbols)" = "['binance-spot', 'binance-usdm']" ] &&
    ok "ctl symbols add brings the removed one back" || bad "re-added"
cmp -s "$tmp/k.cfg" "$tmp/orig.cfg" && ok "the config file is untouched until w" || bad "file untouched"

# ---- write-back: w, y ----
keys e
expect "take-profit %" "the form again"
keys w
expect "write 2 changed value(s)" "w asks before writing"
keys y
expect "written to" "y writes the values back"
cat >"$tmp/diff.py" <<'EOF'
import sys
a = open(sys.argv[1], "rb").read().split(b"\n")
b = open(sys.argv[2], "rb").read().split(b"\n")
if len(a) != len(b):
    print("line count %d -> %d" % (len(a), len(b))); sys.exit(1)
diff = [i for i in range(len(a)) if a[i] != b[i]]
want = b'risk: { max_positions = 7; /* keep this comment */ size_mode = "fixed_quote"; };'
if len(diff) != 1 or b[diff[0]] != want:
    print("changed lines %r: %r" % (diff, [b[i] for i in diff])); sys.exit(1)
print("%d lines kept byte for byte" % (len(a) - 1))
EOF
if python3 "$tmp/diff.py" "$tmp/orig.cfg" "$tmp/k.cfg" >"$tmp/diff.out" 2>&1; then
    ok "only the risk line changed; comments and every other line kept ($(cat "$tmp/diff.out"))"
else
    bad "write-back kept the file"; cat "$tmp/diff.out"
fi
[ "$(cj 'j["pending"]' settings)" = 0 ] && ok "nothing differs from the file after w" || bad "pending 0"
[ "$(cj '[s["source"] for s in j["settings"] if s["key"]=="risk.max_positions"][0]' settings)" = file ] &&
    ok "its source is now the file" || bad "source file"
keys Escape

# ---- an edited file wins over a stored value ----
ctl set risk.max_positions 9 >/dev/null
stop
sed -i 's/max_positions = 7;/max_positions = 4;/' "$tmp/k.cfg"
if start; then ok "restarted after editing the file"; else bad "restart 2"; fi
[ "$(cj 'j["value"]' get risk.max_positions)" = 4 ] && ok "the edited file wins over the stored 9" ||
    bad "file wins"
[ "$(cj '[s["source"] for s in j["settings"] if s["key"]=="risk.max_positions"][0]' settings)" = file ] &&
    ok "and its source is the file again" || bad "source file after the edit"
stop

# ---- write-back goes only to the file Kestrel loaded, never to the shipped default ----
# started in a checkout without --config, Kestrel loads ./config/kestrel.cfg (the repository's)
mkdir -p "$tmp/repo/config"
cp config/kestrel.cfg "$tmp/repo/config/kestrel.cfg"
cp config/kestrel.cfg "$tmp/shipped.orig"
$T new-session -d -s k -x 120 -y 40 \
    "cd $tmp/repo && env -u KESTREL_CONFIG $BIN --db $tmp/k.db --socket $tmp/s --speed 1 --replay $S/btcusdt_20240808.gz,$S/ethusdt_20240808.gz 2>>$tmp/err"
poll_eq 20 True "sum(s[\"data\"] for s in j[\"symbols\"]) >= 2" symbols || :
[ "$(cj 'j["config_file"]' settings)" = ./config/kestrel.cfg ] &&
    ok "started in a checkout it loaded ./config/kestrel.cfg" || bad "implicit ./config/kestrel.cfg"
ctl set risk.max_positions 6 >/dev/null 2>&1
ctl settings write >"$tmp/w.out" 2>&1
grep -qF "./config/kestrel.cfg is the repository's shipped default config: not written" "$tmp/w.out" &&
    ok "ctl settings write refuses the shipped default and names it" ||
    { cat "$tmp/w.out"; bad "settings write refuses the shipped default"; }
keys e
wait_for "take-profit %" 10 || :
keys w
expect "is the repository's shipped default config: not written" \
    "w in the form refuses the shipped default on the screen"
keys Escape
cmp -s "$tmp/shipped.orig" "$tmp/repo/config/kestrel.cfg" && ok "the shipped default is untouched" ||
    bad "the shipped default is untouched"
stop

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
