#!/bin/sh
# Checks every library and tool Kestrel needs; installs the missing Debian packages when run as
# root, otherwise prints the exact command and stops. Called by `make deps` (run/test depend on it).
set -u
need=""
pc() { pkg-config --exists "$1" 2>/dev/null || need="$need $2"; }
tool() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
tool pkg-config pkg-config
tool cc gcc
tool make make
pc ncursesw libncurses-dev
pc libcurl libcurl4-openssl-dev
pc openssl libssl-dev
pc libwebsockets libwebsockets-dev
pc libcjson libcjson-dev
pc sqlite3 libsqlite3-dev
pc libconfig libconfig-dev
pc zlib zlib1g-dev
pc openblas libopenblas-dev
pc xgboost libxgboost-dev
if [ "${1:-}" = "test" ]; then
    tool tmux tmux
    tool sqlite3 sqlite3
    tool gzip gzip
    tool python3 python3
    tool openssl openssl
    # the fake exchange (tests/fake/) runs on Debian's python3 with python3-websockets
    /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need="$need python3-websockets"
    tool prlimit util-linux # store_health.sh: a file size limit on the binary
    tool setpriv util-linux # store_health.sh: a read-only database as another user
fi
if [ "${1:-}" = "fuzz" ]; then
    tool clang clang
    [ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] || \
        ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || \
        need="$need libclang-rt-14-dev"
fi
[ -z "$need" ] && exit 0
need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends $need >/dev/null || {
        echo "deps: apt-get install -y $need failed" >&2; exit 1; }
    exit 0
fi
echo "deps: missing Debian packages:$need" >&2
echo "deps: install them with:  sudo apt-get install -y$need" >&2
exit 1
