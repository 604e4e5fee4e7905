# Shared helpers for the shell tests (tests/integration/*.sh, tests/tui/*.sh): counters, a temp
# dir ($T) and one trap at exit that tears down everything a test started (its processes in
# $PIDS, its private tmux servers, the fake exchange) and removes the dir, JSON field extraction
# with python3, the fake exchange (fake_start), a private tmux server (tmux_init), the TUI
# scripts' set-up (tui_init, tui_start, cap, wait_for, expect, ...) and the closing
# "N passed, N failed" line. One set-up for every script, so a fix here fixes them all.
PASS=0; FAIL=0
: "${KESTREL_BIN:=build/release/kestrel}"
SHARED="${KESTREL_SHARED_DATA:-../shared/data}"
T=$(mktemp -d /tmp/kestrel-it.XXXXXX)
KT_DIR=$T  # the test's directory ($T of the integration scripts, $tmp of the TUI ones)
PIDS=""
KT_TMUX="" # the private tmux servers (tmux_init), killed at exit
KT_PY=/usr/bin/python3
[ -x "$KT_PY" ] || KT_PY=python3
# KEEP_T=DIR keeps a copy of the test's directory (its logs and replies) for a failure's post-mortem
cleanup() {
    for kt_s in $KT_TMUX; do tmux -L "$kt_s" kill-server >/dev/null 2>&1; done
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP_T:-}" ] && cp -r "$KT_DIR" "$KEEP_T"
    rm -rf "$KT_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
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
# kt_poll TENTHS command...: until the command succeeds, at most TENTHS tries 0.1 s apart (the
# helpers below use it, so a script's own wait_for cannot change them)
kt_poll() {
    kt_n=$1; shift
    while [ "$kt_n" -gt 0 ]; do "$@" && return 0; sleep 0.1; kt_n=$((kt_n - 1)); done; return 1
}
wait_for() { # seconds command...: polls every 0.1 s
    n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1
}
done_tests() { echo; echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }

# tmux_init NAME: a private tmux server (its own socket, no config) as $TM; killed at exit
tmux_init() {
    TM="tmux -L $1$$ -f /dev/null"
    KT_TMUX="$KT_TMUX $1$$"
}

# fake_run NAME [fake args...]: the fake exchange (tests/fake/fake_exchange.py) on a free
# loopback port with the shared data, gone with this script (--parent) or after --lifetime
# (60 s unless the args say otherwise); port file $KT_DIR/NAME.port, log $KT_DIR/NAME.log.
# Waits (bounded) until it listens; sets FPID and FP (its port). fake_start NAME [args...]: the
# same as the test's main fake: P (port), B (http://) and W (ws://) for it too; fget PATH.
fake_run() {
    kt_f=$1; shift
    rm -f "$KT_DIR/$kt_f.port"
    "$KT_PY" tests/fake/fake_exchange.py --port-file "$KT_DIR/$kt_f.port" --data "$SHARED" \
        --lifetime 60 --parent $$ "$@" 2> "$KT_DIR/$kt_f.log" &
    FPID=$!
    PIDS="$PIDS $FPID"
    kt_poll 600 test -s "$KT_DIR/$kt_f.port" ||
        { echo "   fake $kt_f did not start:"; cat "$KT_DIR/$kt_f.log"; }
    FP=$(cat "$KT_DIR/$kt_f.port" 2>/dev/null)
}
fake_start() {
    fake_run "$@"
    P=$FP
    B="http://127.0.0.1:$P"
    W="ws://127.0.0.1:$P"
}
fget() { curl -s --max-time 10 "$B$1"; }

# tui_init NAME [TOOL...]: the set-up of a TUI script (tests/tui/), run from the repository's
# root: $BIN the program under test (absolute), TOOL... (tmux always) must be installed, $tmp
# the test's directory, $T its private tmux server (kestrel-NAME), pass/fail counters with ok /
# bad (bad shows the last screen), $slow (3 in a sanitizer build, which starts and draws slower)
# and the screen helpers below on the session $TUI_S (k unless tui_start or the script sets it).
tui_init() {
    BIN=${KESTREL_BIN:-build/release/kestrel}
    case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
    kt_name=$1; shift
    for kt_t in tmux "$@"; do
        command -v "$kt_t" >/dev/null 2>&1 ||
            { echo "$kt_t missing"; echo "0 passed, 1 failed"; exit 1; }
    done
    [ -x "$BIN" ] || { echo "no binary $BIN"; echo "0 passed, 1 failed"; exit 1; }
    tmp=$KT_DIR
    tmux_init "kestrel-$kt_name"
    T=$TM
    TUI_S=k
    pass=0
    fail=0
    case $BIN in *asan*) slow=3 ;; *) slow=1 ;; esac
    ok() { pass=$((pass + 1)); echo "ok   $1"; }
    bad() {
        fail=$((fail + 1)); echo "FAIL $1"
        echo "---- screen:"; cat "$tmp/screen" 2>/dev/null; echo "----"
    }
    # wait_for TEXT SECONDS [capture flags]: until the screen shows TEXT (a fixed string)
    wait_for() { kt_poll $(($2 * 10 * slow)) tui_shows "$1" "${3:-}"; }
}
# tui_start SESSION WxH KESTREL-ARGS...: kestrel in a new session of that size (it becomes
# $TUI_S) with $TUI_ENV (UTF-8 and TERM=screen-256color unless set), stderr appended to
# $tmp/stderr, its exit status in $tmp/rc, the pane kept a minute after it ends; waits (bounded)
# for its first frame. The args name its own --socket (and --db).
tui_start() {
    TUI_S=$1; kt_w=${2%x*}; kt_h=${2#*x}; shift 2
    rm -f "$tmp/rc"
    $T new-session -d -s "$TUI_S" -x "$kt_w" -y "$kt_h" \
        "env ${TUI_ENV-LANG=C.UTF-8 LC_ALL= TERM=screen-256color} $BIN $* 2>>$tmp/stderr; \
         echo \$? > $tmp/rc; sleep 60"
    kt_poll $((100 * slow)) tui_drawn
}
# cap [capture flags]: the pane of $TUI_S into $tmp/screen (empty when there is none)
cap() { $T capture-pane -p ${1:-} -t "$TUI_S" >"$tmp/screen" 2>/dev/null || : >"$tmp/screen"; }
tui_drawn() { cap; grep -q '[^[:space:]]' "$tmp/screen"; }
tui_shows() { cap "${2:-}"; grep -qF -- "$1" "$tmp/screen"; }
tui_lacks() { cap; ! grep -qF -- "$1" "$tmp/screen"; }
wait_screen() { wait_for "$@"; }
# wait_gone TEXT SECONDS: until the screen no longer shows TEXT
wait_gone() { kt_poll $(($2 * 10 * slow)) tui_lacks "$1"; }
expect() { if wait_for "$1" "${3:-5}"; then ok "$2"; else bad "$2 (wanted '$1')"; fi; }
expect_gone() { if wait_gone "$1" "${3:-5}"; then ok "$2"; else bad "$2 (still '$1')"; fi; }
keys() { $T send-keys -t "$TUI_S" "$@"; }
# cj EXPR CTL-ARGS...: the python expression over the JSON reply (j) of the script's `ctl ARGS`
cj() { kt_e=$1; shift; ctl "$@" >"$tmp/c.json" 2>/dev/null; jget "$tmp/c.json" "$kt_e"; }
poll_eq() { # seconds want expr ctl-args...: until cj gives want
    kt_s=$1; kt_want=$2; shift 2
    kt_poll $((kt_s * 10 * slow)) kt_cj_is "$kt_want" "$@"
}
kt_cj_is() { kt_v=$1; shift; [ "$(cj "$@")" = "$kt_v" ]; }
# st EXPR: the expression over `ctl status` (kept in $tmp/st.json); poll SECONDS EXPR VALUE
st() { ctl status > "$tmp/st.json" 2>/dev/null && jget "$tmp/st.json" "$1"; }
poll() { kt_poll $(($1 * 10 * slow)) kt_st_is "$2" "$3"; }
kt_st_is() { [ "$(st "$1")" = "$2" ]; }
# attrs_at TEXT: the attributes (SGR parameters, in order) in force where TEXT begins on the
# status bar of a capture with escapes (cap -e): "1 38;5;196 49" is bold, colour 196, default
# background; "absent" when TEXT is not there
attrs_at() {
    python3 - "$tmp/screen" "$1" <<'PY'
import re, sys
line = open(sys.argv[1], encoding="utf-8", errors="replace").readline()
i = line.find(sys.argv[2])
if i < 0:
    print("absent"); sys.exit()
state = []
for m in re.finditer(r"\x1b\[([0-9;]*)m", line[:i]):
    p = m.group(1)
    if p in ("", "0") or p.startswith("0;"):
        state = []
        p = p[2:] if p.startswith("0;") else ""
    if p:
        state.append(p)
print(" ".join(state))
PY
}
