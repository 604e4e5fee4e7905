#!/bin/sh
# SIGINT / SIGTERM / SIGQUIT / SIGHUP / SIGUSR1 / SIGUSR2: the store is flushed (every closed
# candle committed, the session closed), the control socket removed, exit status 0. SIGPIPE is
# ignored. In the tmux UI, SIGQUIT and SIGUSR1 leave the terminal sane (icanon echo, no alternate
# screen). Start-up never blocks: a FIFO without a writer is refused at once, SIGTERM is honoured
# while the replay skips a huge gzip of newlines or waits on a quiet pipe. A kill -9 loses at most
# the uncommitted tail: the database opens cleanly afterwards.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
for sig in TERM INT QUIT HUP USR1 USR2; do
    "$K" --headless --speed 0 --db "$T/$sig.db" --socket "$T/$sig.sock" --log "$T/$sig.log" \
        --replay data/replay/btcusdt_20240808.gz,data/replay/btcusdt_20240809.gz &
    pid=$!
    wait_for 30 sh -c "'$K' ctl --socket '$T/$sig.sock' status 2>/dev/null | grep -q '\"finished\":true'"
    closed=$("$K" ctl --socket "$T/$sig.sock" status | python3 -c 'import json,sys; print(sum(s["candles"]["1m"] for s in json.load(sys.stdin)["symbols"]))')
    kill -$sig $pid
    wait $pid; rc=$?
    check "SIG$sig: exit status 0" test $rc -eq 0
    check "SIG$sig: control socket removed" test ! -e "$T/$sig.sock"
    check "SIG$sig: every closed 1m bar is in the database" eq "$(sqlite3 "$T/$sig.db" "select count(*) from candles where tf='1m'")" "$closed"
    check "SIG$sig: session closed" eq "$(sqlite3 "$T/$sig.db" "select count(*) from sessions where ended_ms is not null")" 1
done
# In the terminal UI (tmux): SIGQUIT and SIGUSR1 restore the terminal and end the session.
if command -v tmux >/dev/null 2>&1; then
    tmux_init kestrel-sig
    case $K in /*) KA=$K ;; *) KA=$(pwd)/$K ;; esac
    # the pane: an inner sh records its pid and execs kestrel in the foreground (it keeps the
    # tty); then the terminal's modes are read as the shell gets them back
    cat > "$T/ui.sh" <<'EOF'
d=$1; k=$2; sig=$3; shift 3
sh -c 'echo $$ > "$0"; exec "$@"' "$d/ui$sig.pid" "$k" --db "$d/ui$sig.db" \
    --socket "$d/ui$sig.sock" --log "$d/ui$sig.log" --speed 1 \
    --replay data/replay/btcusdt_20240808.gz
stty -a > "$d/ui$sig.stty"
"$@" display -p '#{alternate_on}' > "$d/ui$sig.alt"
sleep 30
EOF
    for sig in QUIT USR1; do
        $TM new-session -d -s "s$sig" -x 120 -y 40 "sh $T/ui.sh $T $KA $sig $TM"
        wait_for 20 sh -c "'$K' ctl --socket '$T/ui$sig.sock' status >/dev/null 2>&1"
        wait_for 10 sh -c "$TM capture-pane -p -t s$sig | grep -q BTCUSDT"
        check "UI SIG$sig: the UI is up in tmux" test -s "$T/ui$sig.pid"
        kill -$sig "$(cat "$T/ui$sig.pid")"
        wait_for 20 test -s "$T/ui$sig.alt"
        check "UI SIG$sig: icanon restored" sh -c "tr ' ' '\n' < '$T/ui$sig.stty' | grep -qx icanon"
        check "UI SIG$sig: echo restored" sh -c "tr ' ' '\n' < '$T/ui$sig.stty' | grep -qx echo"
        check "UI SIG$sig: alternate screen left" eq "$(cat "$T/ui$sig.alt" 2>/dev/null)" 0
        check "UI SIG$sig: session closed" eq "$(sqlite3 "$T/ui$sig.db" "select count(*) from sessions where ended_ms is not null")" 1
        check "UI SIG$sig: control socket removed" test ! -e "$T/ui$sig.sock"
    done
    $TM kill-server >/dev/null 2>&1
else
    bad "tmux is needed for the UI signal checks"
fi

# Start-up never blocks. A FIFO nobody writes to is refused at once (exit 2, named).
mkfifo "$T/nowriter.fifo"
timeout 20 "$K" --headless --exit-at-end --speed 0 --db "$T/fifo.db" --socket "$T/fifo.sock" \
    --log "$T/fifo.log" --replay "$T/nowriter.fifo" > /dev/null 2> "$T/fifo.err"
check "FIFO without a writer: refused with exit 2 (not blocked)" test $? -eq 2
check "FIFO without a writer: the message says so" grep -q "nowriter.fifo: a pipe with no writer" "$T/fifo.err"
# A FIFO whose writer says nothing: the loop runs (ctl answers) and SIGTERM ends it at once.
mkfifo "$T/quiet.fifo"
sleep 60 > "$T/quiet.fifo" &
wpid=$!; PIDS="$PIDS $wpid"
"$K" --headless --speed 0 --db "$T/quiet.db" --socket "$T/quiet.sock" --log "$T/quiet.log" \
    --replay "$T/quiet.fifo" &
pid=$!
wait_for 20 sh -c "'$K' ctl --socket '$T/quiet.sock' status >/dev/null 2>&1"
check "quiet pipe: the control socket answers while the replay waits" sh -c "'$K' ctl --socket '$T/quiet.sock' status >/dev/null"
kill -TERM $pid
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
wait $pid; rc=$?
check "quiet pipe: SIGTERM ends the run with exit 0" test $rc -eq 0
check "quiet pipe: session closed" eq "$(sqlite3 "$T/quiet.db" "select count(*) from sessions where ended_ms is not null")" 1
kill $wpid 2>/dev/null
# 256 MiB of newlines in a gzip (about 250 KiB): no whole-file pre-scan before the loop; ctl
# answers while the replay skips them, and SIGTERM is honoured in the middle.
head -c 268435456 /dev/zero | tr '\0' '\n' | gzip -1 > "$T/newlines.gz"
"$K" --headless --speed 0 --db "$T/nl.db" --socket "$T/nl.sock" --log "$T/nl.log" \
    --replay "spot:$T/newlines.gz" &
pid=$!
wait_for 20 sh -c "'$K' ctl --socket '$T/nl.sock' status >/dev/null 2>&1"
check "newline gzip: the control socket answers during start-up" sh -c "'$K' ctl --socket '$T/nl.sock' status >/dev/null"
kill -TERM $pid
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
check "newline gzip: SIGTERM honoured at once (the process is gone)" sh -c "! kill -0 $pid 2>/dev/null"
wait $pid; rc=$?
check "newline gzip: exit 0" test $rc -eq 0

# kill -9 mid-run, then a normal run on the same database
"$K" --headless --speed 8 --db "$T/k9.db" --socket "$T/k9.sock" --log "$T/k9.log" \
    --replay data/replay/btcusdt_20240808.gz &
pid=$!
wait_for 10 test -S "$T/k9.sock"
sleep 2
kill -9 $pid; wait $pid 2>/dev/null
check "kill -9 leaves a stale socket behind" test -S "$T/k9.sock"
"$K" --headless --exit-at-end --speed 0 --db "$T/k9.db" --socket "$T/k9.sock" --log "$T/k9b.log" \
    --replay data/replay/btcusdt_20240808.gz > "$T/k9.json"
check "after kill -9 the next run replaces the stale socket, opens the database and completes" test $? -eq 0
check "integrity check passes after kill -9" eq "$(sqlite3 "$T/k9.db" 'pragma integrity_check')" ok
done_tests
