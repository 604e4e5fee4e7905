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

# the default path is in the private runtime directory: $XDG_RUNTIME_DIR/kestrel/
XDG_RUNTIME_DIR="$tmp/xdg" "$BIN" ctl status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && ok || ko "default path: exit $rc"
grep -q "cannot connect to $tmp/xdg/kestrel/kestrel.sock:" "$tmp/err" && ok || ko "default path: $(cat "$tmp/err")"
# ... or the config's control.socket
printf 'control: { socket = "%s/c.sock"; };\n' "$tmp" > "$tmp/k.cfg"
"$BIN" ctl --config "$tmp/k.cfg" status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && ok || ko "config socket: exit $rc"
grep -q "cannot connect to $tmp/c.sock:" "$tmp/err" && ok || ko "config socket: $(cat "$tmp/err")"
"$BIN" ctl --config "$tmp/none.cfg" status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && ok || ko "missing --config: exit $rc"
# --db is gone (the socket no longer lives beside the database)
"$BIN" ctl --db "$tmp/k.db" status >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && ok || ko "--db: exit $rc"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
