#!/bin/sh
# Runs the whole suite for one or more build directories: every unit test binary, then every
# integration and TUI script (which get KESTREL_BIN). Each prints "N passed, N failed"; this sums
# them. A binary that crashes or prints no summary counts as one failure.
# Usage: tests/run.sh BUILD_DIR [BUILD_DIR...]     (TESTS=pattern to run a subset)
cd "$(dirname "$0")/.." || exit 2
total_p=0; total_f=0; failed_names=""
logdir=$(mktemp -d /tmp/kestrel-tests.XXXXXX)
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export KESTREL_SHARED_DATA="${KESTREL_SHARED_DATA:-$(cd .. && pwd)/shared/data}"
# the user's own database and config file stay out of every test: a Kestrel started without
# --db / --config finds its default places under these (docs/CONFIG.md)
export XDG_DATA_HOME="$logdir/xdg-data" XDG_CONFIG_HOME="$logdir/xdg-config"
run_one() { # name build cmd...
    name=$1; shift; b=$1; shift
    case "$name" in *${TESTS:-}*) ;; *) return ;; esac
    log="$logdir/$(echo "$b-$name" | tr '/' '_').log"
    start=$(date +%s)
    "$@" >"$log" 2>&1; rc=$?
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$line" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
    f=$(echo "$line" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
    [ -n "$line" ] || { p=0; f=1; }
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_p=$((total_p + p)); total_f=$((total_f + f))
    t=$(( $(date +%s) - start ))
    if [ "$f" -ne 0 ]; then
        printf '  FAIL %-40s %s passed, %s failed (exit %s, %ss) log: %s\n' "$b:$name" "$p" "$f" "$rc" "$t" "$log"
        tail -n 30 "$log" | sed 's/^/       | /'
        failed_names="$failed_names $b:$name"
    else
        printf '  ok   %-40s %s passed (%ss)\n' "$b:$name" "$p" "$t"
    fi
}
for b in "$@"; do
    echo "== suite: $b"
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "$(basename "$t")" "$b" "$t"
    done
    for s in tests/integration/*.sh tests/tui/*.sh; do
        [ -f "$s" ] || continue
        run_one "$(basename "$s" .sh)" "$b" env KESTREL_BIN="$b/kestrel" KESTREL_BUILD="$b" sh "$s"
    done
done
echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
