#!/bin/sh
# Builds and runs every libFuzzer target tests/fuzz/fuzz_*.c for SECONDS each (default 180) and
# reports the executions of each (the goal: at least 1M per target in the default time).
# The library (src/**/*.c except src/main.c) is compiled once with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj/; each target links against it
# with -fsanitize=fuzzer,address,undefined. A target runs on a scratch corpus build/fuzz/corpus/NAME
# plus its read-only seeds tests/fuzz/seeds/NAME/ (NAME = file name without "fuzz_"), if present;
# crash inputs land in build/fuzz/artifacts/. A target passes if it neither crashes nor fails to
# build. Prints "N passed, N failed" last; exit status 0 only if all passed.
# Usage: tests/fuzz/run.sh [SECONDS]     (FUZZ=pattern runs a subset, CC_FUZZ overrides clang)
# Seeds: real capture lines from ../shared/data/binance (one JSON message per file for the
# decoder, a few consecutive raw lines per file for the replay reader), plus the two control
# replies quoted in Binance's documentation.
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-180}
cc=${CC_FUZZ:-clang}
out=build/fuzz
pkgs=$(sed -n 's/^PKGS *:= *//p' Makefile)
pkg_cflags=$(pkg-config --cflags $pkgs 2>/dev/null)
pkg_libs=$(pkg-config --libs $pkgs 2>/dev/null)
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Iinclude $pkg_cflags"
passed=0; failed=0; failed_names=""
mkdir -p "$out/obj" "$out/corpus" "$out/artifacts" || exit 2

fail() { failed=$((failed + 1)); failed_names="$failed_names $1"; }

# The library, once (incremental: only sources newer than their object are rebuilt).
objs=""
lib_ok=1
for src in $(find src -name '*.c' ! -path src/main.c | sort); do
    obj="$out/obj/$(echo "$src" | sed 's|/|_|g; s|\.c$|.o|')"
    objs="$objs $obj"
    stale=$(find include -newer "$obj" -name '*.h' 2>/dev/null | head -n 1)
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$stale" ]; then
        if ! $cc $cflags $san -fsanitize=fuzzer-no-link -c "$src" -o "$obj"; then
            echo "fuzz: cannot compile $src" >&2
            lib_ok=0
        fi
    fi
done
rm -f "$out/libkestrel-fuzz.a"
if [ "$lib_ok" = 1 ] && ! ar rcs "$out/libkestrel-fuzz.a" $objs; then lib_ok=0; fi

for t in tests/fuzz/fuzz_*.c; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .c)
    case "$name" in *${FUZZ:-}*) ;; *) continue ;; esac
    short=${name#fuzz_}
    bin="$out/$name"
    # --as-needed (as the Makefile links): a target loads only the libraries it calls. Without
    # it every target loaded OpenBLAS, whose idle worker threads spin in sched_yield() and took
    # a core's share from the fuzzer on this 2-core machine.
    if [ "$lib_ok" != 1 ] || ! $cc $cflags -Itests/unit $san -fsanitize=fuzzer "$t" \
            "$out/libkestrel-fuzz.a" -Wl,--as-needed $pkg_libs -lpthread -lm -o "$bin"; then
        echo "  FAIL $name (build)"
        fail "$name"
        continue
    fi
    corpus="$out/corpus/$short"
    mkdir -p "$corpus"
    seeds=""
    [ -d "tests/fuzz/seeds/$short" ] && seeds="tests/fuzz/seeds/$short"
    log="$out/$name.log"
    # per-target libFuzzer flags: tests/fuzz/NAME.flags (lines starting with # are comments)
    flags=""
    [ -f "tests/fuzz/$name.flags" ] && flags=$(sed '/^#/d' "tests/fuzz/$name.flags")
    OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
    LSAN_OPTIONS="suppressions=$(pwd)/tests/fuzz/lsan.supp" \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$name-" $flags "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        goal="below 1M"
        [ "${runs:-0}" -ge 1000000 ] 2>/dev/null && goal=">= 1M"
        echo "  ok   $name (${runs:-?} runs in ${secs}s, $goal)"
    else
        echo "  FAIL $name (exit $rc) log: $log"
        grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==|Test unit written' "$log" |
            head -n 15 | sed 's/^/       | /'
        fail "$name"
    fi
done
echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
