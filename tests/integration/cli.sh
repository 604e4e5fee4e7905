#!/bin/sh
# Command line and configuration errors: one clear line on stderr and exit status 2; --help,
# --version; a locked/corrupt/newer database gives a clear error and is left untouched.
. "$(dirname "$0")/../lib.sh"
expect_exit() { # code desc args...
    code=$1; d=$2; shift 2
    "$KESTREL_BIN" "$@" > "$T/out" 2> "$T/err"; rc=$?
    if [ $rc -eq "$code" ]; then ok "$d (exit $code)"; else bad "$d: exit $rc, expected $code"; cat "$T/err"; fi
}
one_line() { d=$1; n=$(wc -l < "$T/err"); if [ "$n" -eq 1 ]; then ok "$d: one line"; else bad "$d: $n lines on stderr"; cat "$T/err"; fi; }

expect_exit 0 "--version" --version
check "--version prints the version" grep -q '^kestrel [0-9]' "$T/out"
expect_exit 0 "--help" --help
check "--help lists every option" sh -c "for o in --config --db --replay --speed --headless --exit-at-end --theme --log --socket; do grep -q -- \"\$o\" '$T/out' || exit 1; done"
expect_exit 2 "unknown option" --frobnicate
one_line "unknown option"
check "unknown option is named" grep -q -- '--frobnicate' "$T/err"
expect_exit 2 "missing option value" --speed
one_line "missing value"
expect_exit 2 "non-numeric speed" --speed fast --headless
one_line "bad speed"
expect_exit 2 "negative speed" --speed -1 --headless
expect_exit 2 "stray argument" extra
expect_exit 2 "--exit-at-end without replay handled" --replay "" --headless

printf 'ui = {\n  fps = 500;\n};\n' > "$T/bad.cfg"
expect_exit 2 "out-of-range config value" --config "$T/bad.cfg" --headless
check "config error names file:line" grep -q "bad.cfg:2" "$T/err"
printf 'ui = {\n  fps = 30\n  theme = ;\n' > "$T/syntax.cfg"
expect_exit 2 "config syntax error" --config "$T/syntax.cfg" --headless
check "syntax error names file:line" grep -q "syntax.cfg:[0-9]" "$T/err"
expect_exit 2 "missing config file" --config "$T/nope.cfg" --headless
expect_exit 2 "missing replay file" --headless --replay "$T/nope.gz" --db "$T/x.db" --socket "$T/x.sock"
check "missing replay file is named" grep -q "nope.gz" "$T/err"

# the UI without a terminal: a clear error, exit 1, nothing created (no database, no socket)
expect_exit 1 "UI without a terminal on stdin" --db "$T/tty.db" --socket "$T/tty.sock" < /dev/null
one_line "UI without a terminal"
check "UI without a terminal: suggests --headless" grep -q -- "--headless" "$T/err"
check "UI without a terminal: no database created" test ! -e "$T/tty.db"
check "UI without a terminal: no socket created" test ! -e "$T/tty.sock"
"$KESTREL_BIN" --db "$T/tty.db" --socket "$T/tty.sock" <&- > "$T/out" 2> "$T/err"
check "UI with stdin closed: exit 1" test $? -eq 1
# headless with stdin/stderr closed still works (the closed descriptors are not reused)
"$KESTREL_BIN" --headless --exit-at-end --speed 0 --db "$T/fd.db" --socket "$T/fd.sock" \
    --replay data/replay/ethusdt_20240809.gz <&- 2>&- > "$T/fd.json"
check "headless with stdin and stderr closed: exit 0 and the status" \
    eq "$(jget $T/fd.json 'j["messages"]')" 46126

# databases that must never be overwritten
head -c 4096 /dev/urandom > "$T/corrupt.db"; cp "$T/corrupt.db" "$T/corrupt.orig"
expect_exit 1 "corrupt database refused" --headless --exit-at-end --speed 0 --db "$T/corrupt.db" --socket "$T/c.sock" --replay data/replay/ethusdt_20240809.gz
check "corrupt database left untouched" cmp -s "$T/corrupt.db" "$T/corrupt.orig"
check "corrupt database error is clear" grep -qi "corrupt\|not a kestrel database" "$T/err"
sqlite3 "$T/newer.db" 'PRAGMA user_version=999; CREATE TABLE t(x);'
cp "$T/newer.db" "$T/newer.orig"
expect_exit 1 "newer-schema database refused" --headless --exit-at-end --speed 0 --db "$T/newer.db" --socket "$T/n.sock" --replay data/replay/ethusdt_20240809.gz
check "newer database left untouched" cmp -s "$T/newer.db" "$T/newer.orig"
check "newer database error names the version" grep -q "999" "$T/err"

# a database in use by another Kestrel
"$KESTREL_BIN" --headless --speed 1 --db "$T/busy.db" --socket "$T/busy1.sock" --log "$T/busy1.log" --replay data/replay/ethusdt_20240809.gz &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/busy1.sock"
expect_exit 1 "database in use refused" --headless --exit-at-end --speed 0 --db "$T/busy.db" --socket "$T/busy2.sock" --replay data/replay/ethusdt_20240809.gz
check "in-use error is clear" grep -qi "in use\|locked" "$T/err"
"$KESTREL_BIN" ctl --socket "$T/busy1.sock" quit > /dev/null 2>&1
done_tests
