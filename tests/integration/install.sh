#!/bin/sh
# make install: the recipe installs the binary, man page, themes, the bundled replay and the
# example config under PREFIX (DESTDIR honoured); the installed binary, started from another
# directory with no configuration, finds the bundled replay and the themes next to itself
# (PREFIX/bin -> PREFIX/share/kestrel), whatever PREFIX it was built for.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(pwd)

# the recipe (dry run: nothing is built or written)
make -n install DESTDIR="$T/d" PREFIX=/opt/k > "$T/recipe" 2>&1
for f in "$T/d/opt/k/bin/kestrel" "$T/d/opt/k/share/man/man1/kestrel.1" \
    "$T/d/opt/k/share/kestrel/themes/" "$T/d/opt/k/share/kestrel/replay/" \
    "$T/d/opt/k/share/doc/kestrel/kestrel.cfg.example"; do
    check "make install puts $(echo "$f" | sed "s|$T/d||")" grep -qF -- "$f" "$T/recipe"
done

# the installed layout, as the recipe makes it, under a DESTDIR-like prefix the binary was not
# built for
P="$T/stage/usr/local"
mkdir -p "$P/bin" "$P/share/kestrel/themes" "$P/share/kestrel/replay" "$T/elsewhere" "$T/xdg"
cp "$K" "$P/bin/kestrel"
cp themes/*.theme "$P/share/kestrel/themes/"
cp data/replay/* "$P/share/kestrel/replay/"
cd "$T/elsewhere" || exit 2
XDG_CONFIG_HOME="$T/xdg" XDG_DATA_HOME="$T/xdg" "$P/bin/kestrel" --headless --exit-at-end \
    --speed 0 --db "$T/i.db" --socket "$T/i.sock" --log "$T/i.log" > "$T/i.json" 2> "$T/i.err"
check "installed binary from another directory: the bundled replay runs (exit 0)" test $? -eq 0
check "it replayed the installed captures" grep -qF "$P/share/kestrel/replay/btcusdt_20240808.gz" "$T/i.json"
check "final BTCUSDT best bid 61602.01" eq "$(sym $T/i.json BTCUSDT best_bid)" 61602.01
check "final ETHUSDT best ask 2677.61" eq "$(sym $T/i.json ETHUSDT best_ask)" 2677.61
# a bare file name behind any venue prefix replay accepts is found there too, prefix kept
XDG_CONFIG_HOME="$T/xdg" XDG_DATA_HOME="$T/xdg" "$P/bin/kestrel" --headless --exit-at-end \
    --speed 0 --db "$T/v.db" --socket "$T/v.sock" --log "$T/v.log" \
    --replay binance-usdm:ethusdt_20240808.gz > "$T/v.json" 2> "$T/v.err"
check "binance-usdm:FILE from another directory: found in the installed replay (exit 0)" \
    test $? -eq 0
check "binance-usdm:FILE: the prefix still sets the venue" \
    eq "$(jget $T/v.json 'j["symbols"][0]["venue"]')" binance-usdm

# themes: the UI finds amber next to the binary (no "not found" flash)
if command -v tmux >/dev/null 2>&1; then
    tmux_init kestrel-inst
    $TM new-session -d -x 120 -y 40 "cd $T/elsewhere && env TERM=xterm-256color LANG=C.UTF-8 \
        XDG_CONFIG_HOME=$T/xdg XDG_DATA_HOME=$T/xdg $P/bin/kestrel --db $T/u.db --socket $T/u.sock \
        --theme amber --replay btcusdt_20240808.gz; sleep 30"
    found=0
    for i in $(seq 1 50); do
        $TM capture-pane -p > "$T/screen" 2>/dev/null
        grep -qF "Watchlist" "$T/screen" && found=1 && break
        sleep 0.1
    done
    sleep 0.5
    $TM capture-pane -p > "$T/screen" 2>/dev/null
    check "installed UI starts from another directory" test $found -eq 1
    check "installed UI finds its theme (no 'not found')" sh -c "! grep -q 'not found' '$T/screen'"
    check "a bare replay file name is found in the installed replay directory" \
        grep -qF "btcusdt_20240808.gz x" "$T/screen"
    "$K" ctl --socket "$T/u.sock" quit > /dev/null 2>&1
    $TM kill-server > /dev/null 2>&1
fi
cd "$ROOT" || exit 2
done_tests
