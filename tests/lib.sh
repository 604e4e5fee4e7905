# Shared helpers for the shell integration tests: counters, a temp dir cleaned at exit, JSON field
# extraction with python3, and the closing "N passed, N failed" line.
PASS=0; FAIL=0
: "${KESTREL_BIN:=build/release/kestrel}"
SHARED="${KESTREL_SHARED_DATA:-../shared/data}"
T=$(mktemp -d /tmp/kestrel-it.XXXXXX)
PIDS=""
# KEEP_T=DIR keeps a copy of the test's directory (its logs and replies) for a failure's post-mortem
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; [ -n "$KEEP_T" ] && cp -r "$T" "$KEEP_T"; rm -rf "$T"; }
trap cleanup EXIT INT TERM
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
check() { # description, then a command: ok when it succeeds
    d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
# jget FILE EXPR: evaluates a python expression over the JSON document `j`
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
# sym FILE SYMBOL FIELD [VENUE]
sym() { python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
for s in j["symbols"]:
    if s["symbol"]==sys.argv[2] and (len(sys.argv)<5 or s["venue"]==sys.argv[4]):
        v=s
        for k in sys.argv[3].split("."): v=v[k]
        print(v); break
' "$@" 2>/dev/null; }
eq() { [ "$1" = "$2" ] || { echo "   got '$1', expected '$2'"; return 1; }; }
wait_for() { # seconds command...: polls every 0.1 s
    n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1
}
done_tests() { echo; echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }
