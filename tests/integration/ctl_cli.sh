#!/bin/sh
# `kestrel ctl` as a user meets it without a running Kestrel: help, usage errors (exit 2), and
# the clear message with exit 1 when nothing listens. (Requests against a live server are
# covered by tests/unit/test_ctl.c, which runs the same client code against a real server.)
BIN=${KESTREL_BIN:?KESTREL_BIN not set}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
tmp=$(mktemp -d /tmp/kestrel-ctlcli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$BIN" ctl --help >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 0 ] && ok || ko "--help exit $rc"
grep -q '^usage: kestrel ctl' "$tmp/out" && ok || ko "--help text"

"$BIN" ctl >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && ok || ko "no command: exit $rc"
grep -q 'missing command' "$tmp/err" && ok || ko "no command: message"

"$BIN" ctl --no-such-option status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && ok || ko "unknown option: exit $rc"
[ "$(wc -l < "$tmp/err")" -eq 1 ] && ok || ko "unknown option: not one line: $(cat "$tmp/err")"
grep -q -- "--no-such-option" "$tmp/err" && ok || ko "unknown option: not named"

"$BIN" ctl --timeout -3 status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && ok || ko "bad timeout: exit $rc"

"$BIN" ctl --socket "$tmp/none.sock" status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && ok || ko "nothing listening: exit $rc"
grep -q "^kestrel ctl: cannot connect to $tmp/none.sock: .*(is Kestrel running? use --socket)" \
    "$tmp/err" && ok || ko "nothing listening: message: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] && ok || ko "nothing listening: stdout not empty"

# the default path follows --db when XDG_RUNTIME_DIR is unset
env -u XDG_RUNTIME_DIR "$BIN" ctl --db "$tmp/sub/k.db" status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && ok || ko "--db: exit $rc"
grep -q "cannot connect to $tmp/sub/kestrel.sock:" "$tmp/err" && ok || ko "--db: $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
